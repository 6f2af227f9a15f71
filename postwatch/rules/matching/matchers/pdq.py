"""An exact index of PDQ hashes: every stored hash within a Hamming distance of a query.

The method is multi-index hashing with a word filter, and it is exact for distances up to 31
(HMA's and GIFCT's threshold) by two pigeonhole steps. A hash is four 64-bit words of four
16-bit chunks. If two hashes differ in at most 31 bits, one of the four words differs in
at most 7 (4 x 8 > 31), and inside that word one of the four chunks differs in at most 1
(4 x 2 > 7). So for each of the 16 chunks the index keeps the stored hashes sorted by that
chunk's value (a bucket per value) and, beside each entry, the 64-bit word the chunk lives
in. A query probes, for each chunk, the bucket of its own value and the 16 buckets one bit
away, keeps the entries whose word is within 7 bits of the query's, and checks only those
against the full 256 bits. For random hashes about 4,000 entries are scanned per query at a
million hashes, and almost none survive the word filter, so the cost is the 272 bucket
visits, not a million distance computations. A hash found through several chunks is
reported once: through the first chunk that would find it. For a smaller distance r the
same steps give tighter bounds (a word within r // 4 bits, a chunk within r // 16), and
below 16 only each chunk's own bucket is probed.

Those bucket visits are cache misses (the sorted views of a million hashes take 200 MB),
so a search first locates every bucket of every query and then scans them in that order,
prefetching the buckets a dozen probes ahead: the misses overlap instead of coming one
after another. Searching many queries in one call keeps that pipeline full: at a million
hashes a batch of 200 queries goes several times faster than its queries one by one did.

Hashes added after the index is built go to a small side buffer that each query scans in
full; when that buffer is full it is merged into the sorted buckets. A hash is searchable as
soon as `add` returns.

Memory: 32 bytes a hash for the hashes themselves, plus 12 bytes a hash per chunk (an id
and a word) for the sorted views: 224 bytes a hash, and 8 MiB of bucket offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import cast

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_DISTANCE", "PDQIndex", "hashes_from_hex", "hex_of", "warm_up"]

MAX_DISTANCE = 31
"""The largest distance the index answers exactly; the bound its pigeonhole steps need."""

_CHUNKS = 16
_BUCKETS = 1 << 16
_SIDE_LIMIT = 16384

U64Array = npt.NDArray[np.uint64]
I32Array = npt.NDArray[np.int32]
I64Array = npt.NDArray[np.int64]
_Kernel = Callable[..., int]


def hashes_from_hex(values: Sequence[str]) -> U64Array:
    """PDQ hashes as 64 hex digits each, as an (n, 4) array of words; raises ValueError."""
    if not values:
        return np.empty((0, 4), dtype=np.uint64)
    if set(map(len, values)) != {64}:
        raise ValueError("a PDQ hash is 64 hex digits")
    raw = bytes.fromhex("".join(values))
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4).copy()


def hex_of(words: U64Array) -> str:
    """The 64 hex digits of one hash given as its four words."""
    return words.tobytes().hex()


@cache
def _kernels() -> tuple[_Kernel, _Kernel]:
    """The compiled search loops. numba is imported (0.7 s) and the loops compiled, or
    loaded from numba's cache, on the first search: packs without PDQ banks never pay."""
    from postwatch.rules.matching.matchers import _pdq_kernels  # noqa: PLC0415 - see above

    return _pdq_kernels.search_sorted, _pdq_kernels.search_side


def warm_up() -> None:
    """Load the search loops now (numba's import and its cache, about a second) instead of
    on the first search: a worker calls it at start so that its first post with media does
    not wait, and the posts behind it neither."""
    PDQIndex().search(hashes_from_hex(["0" * 64]), 0)


class PDQIndex:
    """PDQ hashes, searchable by Hamming distance, exactly.

    Ids are positions in insertion order, from 0. `search` returns for each query the
    (id, distance) pairs of every stored hash within `max_distance` (at most 31), sorted by
    distance then id: the same set a brute-force scan returns.

        >>> index = PDQIndex()
        >>> index.add(hashes_from_hex(["f" * 64, "0" * 64]))
        range(0, 2)
        >>> index.search(hashes_from_hex(["f" * 63 + "e"]), 31)
        [[(0, 1)]]
    """

    def __init__(self) -> None:
        self._hashes: U64Array = np.empty((0, 4), dtype=np.uint64)
        self._sorted = 0  # hashes[:_sorted] are in the sorted views, the rest in the side buffer
        self._order: I32Array = np.empty((_CHUNKS, 0), dtype=np.int32)
        self._words: U64Array = np.empty((_CHUNKS, 0), dtype=np.uint64)
        self._starts: I64Array = np.zeros((_CHUNKS, _BUCKETS + 1), dtype=np.int64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (capacity included)."""
        arrays = (self._hashes, self._order, self._words, self._starts)
        return sum(a.nbytes for a in arrays)

    def hashes(self) -> U64Array:
        """The stored hashes as an (n, 4) array, in id order (a view: not to be changed)."""
        return self._hashes[: self._count]

    def hash_words(self, i: int) -> U64Array:
        """The four words of stored hash `i`."""
        return cast(U64Array, self._hashes[i])

    def add(self, hashes: U64Array) -> range:
        """Store an (n, 4) array of hashes; returns their ids. Searchable on return.

        A large batch, or one that fills the side buffer, is merged into the sorted views
        at once, so building from a million hashes is one sort per chunk.
        """
        if hashes.ndim != 2 or hashes.shape[1] != 4 or hashes.dtype != np.uint64:
            raise ValueError("hashes must be an (n, 4) array of uint64")
        first = self._count
        needed = first + len(hashes)
        if needed > len(self._hashes):
            grown = np.empty((max(needed, 2 * len(self._hashes), 1024), 4), dtype=np.uint64)
            grown[:first] = self._hashes[:first]
            self._hashes = grown
        self._hashes[first:needed] = hashes
        self._count = needed
        if self._count - self._sorted > _SIDE_LIMIT:
            self._merge()
        return range(first, needed)

    def _merge(self) -> None:
        """Rebuild the sorted views over every stored hash (a stable radix sort per chunk)."""
        hashes = self._hashes[: self._count]
        n = len(hashes)
        chunks = hashes.view(np.uint16).reshape(n, _CHUNKS)
        order = np.empty((_CHUNKS, n), dtype=np.int32)
        words = np.empty((_CHUNKS, n), dtype=np.uint64)
        starts = np.zeros((_CHUNKS, _BUCKETS + 1), dtype=np.int64)
        for c in range(_CHUNKS):
            column = chunks[:, c]
            by_value = np.argsort(column, kind="stable")
            order[c] = by_value
            words[c] = hashes[by_value, c >> 2]
            np.cumsum(np.bincount(column, minlength=_BUCKETS), out=starts[c, 1:])
        self._order, self._words, self._starts = order, words, starts
        self._sorted = n

    def search(self, queries: U64Array, max_distance: int) -> list[list[tuple[int, int]]]:
        """For each query, the (id, distance) of every stored hash within `max_distance`."""
        if not 0 <= max_distance <= MAX_DISTANCE:
            raise ValueError(f"max_distance must be between 0 and {MAX_DISTANCE}")
        rows = self._run(np.ascontiguousarray(queries, dtype=np.uint64), max_distance)
        found: list[list[tuple[int, int]]] = [[] for _ in range(len(queries))]
        for qi, i, d in sorted(rows.tolist(), key=lambda r: (r[0], r[2], r[1])):
            found[qi].append((i, d))
        return found

    def _run(self, queries: U64Array, radius: int) -> I64Array:
        capacity = max(64, 4 * len(queries))
        search_sorted, search_side = _kernels()
        while True:
            out = np.empty((capacity, 3), dtype=np.int64)
            n = search_sorted(
                self._hashes, self._order, self._words, self._starts, queries, radius, out
            )
            side = self._hashes[self._sorted : self._count]
            n = search_side(side, len(side), self._sorted, queries, radius, out, n)
            if n <= capacity:
                return out[:n]
            capacity = n
