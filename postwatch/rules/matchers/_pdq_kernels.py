"""The compiled loops of `pdq.PDQIndex` (see there for the method). Imported on the first
search only: importing numba takes most of a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["search_side", "search_sorted"]

_CHUNKS = 16

U64Array = npt.NDArray[np.uint64]
I32Array = npt.NDArray[np.int32]
I64Array = npt.NDArray[np.int64]


def _popcount(x: np.uint64) -> np.uint64:
    # the SWAR population count; LLVM turns it into the popcnt instruction where there is one
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


_popcount_jit = numba.njit(inline="always")(_popcount)


def _chunk(word: np.uint64, c: int) -> np.uint64:
    return (word >> np.uint64((c & 3) * 16)) & np.uint64(0xFFFF)


_chunk_jit = numba.njit(inline="always")(_chunk)


def _distance(a: U64Array, i: int, q: U64Array, j: int) -> int:
    d = 0
    for w in range(4):
        d += int(_popcount_jit(a[i, w] ^ q[j, w]))
    return d


_distance_jit = numba.njit(inline="always")(_distance)


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
        if (
            _popcount_jit(word) <= word_radius
            and _popcount_jit(_chunk_jit(word, c2)) <= chunk_radius
        ):
            return True
    return False


_found_earlier_jit = numba.njit(inline="always")(_found_earlier)


def _search_sorted(  # noqa: PLR0917 - numba kernels take their arguments positionally
    hashes: U64Array,
    order: I32Array,
    words: U64Array,
    starts: I64Array,
    queries: U64Array,
    radius: int,
    out: I64Array,
) -> int:
    """Fill `out` with (query, id, distance) rows; return how many there are (may exceed it)."""
    word_radius = radius // 4
    chunk_radius = word_radius // 4
    n = 0
    for qi in range(queries.shape[0]):
        for c in range(_CHUNKS):
            qword = queries[qi, c >> 2]
            own = _chunk_jit(qword, c)
            flips = 16 if chunk_radius >= 1 else 0
            for f in range(flips + 1):
                key = own if f == 0 else own ^ (np.uint64(1) << np.uint64(f - 1))
                k = np.int64(key)
                for p in range(starts[c, k], starts[c, k + 1]):
                    if _popcount_jit(words[c, p] ^ qword) > word_radius:
                        continue
                    i = order[c, p]
                    d = _distance_jit(hashes, i, queries, qi)
                    if d > radius or _found_earlier_jit(
                        hashes, i, queries, qi, c, word_radius, chunk_radius
                    ):
                        continue
                    if n < out.shape[0]:
                        out[n, 0] = qi
                        out[n, 1] = i
                        out[n, 2] = d
                    n += 1
    return n


def _search_side(  # noqa: PLR0917 - numba kernels take their arguments positionally
    side: U64Array, count: int, base: int, queries: U64Array, radius: int, out: I64Array, n: int
) -> int:
    """Brute force over the side buffer, appending to `out` from row `n`; returns the new n."""
    for qi in range(queries.shape[0]):
        for i in range(count):
            d = _distance_jit(side, i, queries, qi)
            if d <= radius:
                if n < out.shape[0]:
                    out[n, 0] = qi
                    out[n, 1] = base + i
                    out[n, 2] = d
                n += 1
    return n


search_sorted = cast(Callable[..., int], numba.njit(cache=True, nogil=True)(_search_sorted))
search_side = cast(Callable[..., int], numba.njit(cache=True, nogil=True)(_search_side))
