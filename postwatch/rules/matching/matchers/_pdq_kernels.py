"""The compiled loops of `pdq.PDQIndex` (see there for the method). Imported on the first
search only: importing numba takes most of a second."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir  # type: ignore[import-untyped]  # llvmlite ships no type hints
from numba.core import cgutils
from numba.extending import intrinsic

from postwatch.rules.matching._numba import inline, kernel

__all__ = ["search_side", "search_sorted"]

_CHUNKS = 16
_FLIPS = 16  # the buckets one bit away from a chunk's own
# How many probes ahead of the one being scanned its bucket is prefetched. A bucket costs
# a cache miss or two; the scan of one is short (15 entries at a million hashes), so the
# loads of a dozen buckets must be in flight at once to keep the scan from waiting.
# Measured at a million hashes: 8 and 16 did as well as 12, 32 did worse.
_AHEAD = 12
# Queries located and scanned together: their buckets' bounds (1.1 MB at most) stay in the
# L2 cache, and a search of a million hashes for duplicates does not take 400 MB of them.
_BLOCK = 256
_LINE = 8  # 64-bit words in a cache line
_PREFETCH_LINES = 3  # a bucket of 15 words spans 2 or 3 lines; longer ones stream


def _prefetch_typing(typingctx: Any, array: Any, row: Any, column: Any) -> Any:
    """Ask the CPU to bring array[row, column] into its cache (llvm.prefetch: read, keep in
    all levels), without waiting for it and without faulting if it is out of bounds."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        kind = signature.args[0]
        data = context.make_array(kind)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]  # numba's cgutils has no annotations
            context, builder, kind, data, [args[1], args[2]], wraparound=False
        )
        bytes_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        prefetch = builder.module.declare_intrinsic(  # named as this LLVM's pointers need
            "llvm.prefetch",
            [bytes_pointer],
            ir.FunctionType(ir.VoidType(), [bytes_pointer, i32, i32, i32]),
        )
        builder.call(prefetch, [builder.bitcast(pointer, bytes_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return numba.types.void(array, row, column), codegen


# Any: numba types the intrinsic with the typing context as an argument its callers never pass
_prefetch: Any = intrinsic(_prefetch_typing)


U64Array = npt.NDArray[np.uint64]
I32Array = npt.NDArray[np.int32]
I64Array = npt.NDArray[np.int64]


@inline
def _popcount(x: np.uint64) -> np.uint64:
    # the SWAR population count; LLVM turns it into the popcnt instruction where there is one
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@inline
def _chunk(word: np.uint64, c: int) -> np.uint64:
    return (word >> np.uint64((c & 3) * 16)) & np.uint64(0xFFFF)


@inline
def _distance(a: U64Array, i: int, q: U64Array, j: int) -> int:
    d = 0
    for w in range(4):
        d += int(_popcount(a[i, w] ^ q[j, w]))
    return d


@inline
def _put(out: I64Array, n: int, qi: int, i: int, d: int) -> int:
    """Row `n` of `out` becomes (query, id, distance) where there is room; the rows after it."""
    if n < out.shape[0]:
        out[n, 0] = qi
        out[n, 1] = i
        out[n, 2] = d
    return n + 1


@inline
def _found_earlier(  # noqa: PLR0917 - numba kernels take their arguments positionally
    hashes: U64Array,
    i: int,
    queries: U64Array,
    qi: int,
    c: int,
    word_radius: int,
    chunk_radius: int,
) -> bool:
    """Whether a chunk before `c` also leads to hash `i`: then that chunk reported it."""
    for c2 in range(c):
        word = hashes[i, c2 >> 2] ^ queries[qi, c2 >> 2]
        if _popcount(word) <= word_radius and _popcount(_chunk(word, c2)) <= chunk_radius:
            return True
    return False


@inline
def _bucket_bounds(  # noqa: PLR0917 - numba kernels take their arguments positionally
    starts: I64Array,
    queries: U64Array,
    first: int,
    per_chunk: int,
    keys: I64Array,
    bounds: I64Array,
) -> int:
    """Fill `bounds` with the (first, end) entries of every bucket that the block of queries
    from `first` probes, in probe order, and return how many there are. Probe j is query
    first + j // (16 * per_chunk), chunk j // per_chunk % 16, flip j % per_chunk (0: the
    chunk's own value, f: that value with bit f - 1 flipped). `keys` is scratch space."""
    stop: int = min(first + _BLOCK, queries.shape[0])
    probes = (stop - first) * _CHUNKS * per_chunk
    j = 0
    for qi in range(first, stop):
        for c in range(_CHUNKS):
            own = _chunk(queries[qi, c >> 2], c)
            keys[j] = np.int64(own)
            for f in range(1, per_chunk):
                keys[j + f] = np.int64(own ^ (np.uint64(1) << np.uint64(f - 1)))
            j += per_chunk
    for j in range(probes):
        if j + _AHEAD < probes:
            _prefetch(starts, (j + _AHEAD) // per_chunk % _CHUNKS, keys[j + _AHEAD])
        c = j // per_chunk % _CHUNKS
        bounds[j, 0] = starts[c, keys[j]]
        bounds[j, 1] = starts[c, keys[j] + 1]
    return probes


@inline
def _prefetch_bucket(words: U64Array, c: int, first: int, end: int) -> None:
    """Prefetch the first lines of words[c, first:end]."""
    last = min(end, first + _PREFETCH_LINES * _LINE) - 1
    for p in range(first, last, _LINE):
        _prefetch(words, c, p)
    if last >= first:
        _prefetch(words, c, last)


@kernel
def search_sorted(  # noqa: PLR0917 - numba kernels take their arguments positionally
    hashes: U64Array,
    order: I32Array,
    words: U64Array,
    starts: I64Array,
    queries: U64Array,
    radius: int,
    out: I64Array,
) -> int:
    """Fill `out` with (query, id, distance) rows; return how many there are (may exceed it).

    The buckets of a block of queries are located first and then scanned, each prefetched
    `_AHEAD` probes before its scan: the cost is cache misses, and this keeps many in flight
    where probing one bucket after another waited for each.
    """
    word_radius = radius // 4
    chunk_radius = word_radius // 4
    per_chunk = _FLIPS + 1 if chunk_radius >= 1 else 1
    room = min(_BLOCK, queries.shape[0]) * _CHUNKS * per_chunk
    keys = np.empty(room, dtype=np.int64)
    bounds = np.empty((room, 2), dtype=np.int64)
    n = 0
    for first in range(0, queries.shape[0], _BLOCK):
        probes = _bucket_bounds(starts, queries, first, per_chunk, keys, bounds)
        for j in range(probes):
            if j + _AHEAD < probes:
                _prefetch_bucket(
                    words,
                    (j + _AHEAD) // per_chunk % _CHUNKS,
                    bounds[j + _AHEAD, 0],
                    bounds[j + _AHEAD, 1],
                )
            qi = first + j // (_CHUNKS * per_chunk)
            c = j // per_chunk % _CHUNKS
            qword = queries[qi, c >> 2]
            for p in range(bounds[j, 0], bounds[j, 1]):
                if _popcount(words[c, p] ^ qword) > word_radius:
                    continue
                i = order[c, p]
                d = _distance(hashes, i, queries, qi)
                if d > radius or _found_earlier(
                    hashes, i, queries, qi, c, word_radius, chunk_radius
                ):
                    continue
                n = _put(out, n, qi, i, d)
    return n


@kernel
def search_side(  # noqa: PLR0917 - numba kernels take their arguments positionally
    side: U64Array, count: int, base: int, queries: U64Array, radius: int, out: I64Array, n: int
) -> int:
    """Brute force over the side buffer, appending to `out` from row `n`; returns the new n."""
    for qi in range(queries.shape[0]):
        for i in range(count):
            d = _distance(side, i, queries, qi)
            if d <= radius:
                n = _put(out, n, qi, base + i, d)
    return n
