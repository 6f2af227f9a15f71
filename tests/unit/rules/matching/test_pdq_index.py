"""The PDQ index returns exactly what a brute-force scan returns."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.rules.matching.matchers.pdq import MAX_DISTANCE, PDQIndex, hashes_from_hex, hex_of
from tests.conftest import SHARED_DATA

Hashes = npt.NDArray[np.uint64]


def brute_force(stored: Hashes, queries: Hashes, radius: int) -> list[list[tuple[int, int]]]:
    out = []
    for query in queries:
        distances = np.bitwise_count(stored ^ query).sum(axis=1)
        near = np.flatnonzero(distances <= radius)
        out.append(sorted(((int(i), int(distances[i])) for i in near), key=lambda p: (p[1], p[0])))
    return out


def flip_bits(rng: np.random.Generator, hashes: Hashes, counts: npt.NDArray[np.int64]) -> Hashes:
    """Copies of the hashes with `counts[i]` distinct random bits of row i flipped."""
    out = hashes.copy()
    for row, count in enumerate(counts):
        for bit in rng.choice(256, int(count), replace=False):
            out[row, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


@pytest.fixture(scope="module")
def workload() -> tuple[Hashes, Hashes]:
    """40,000 random hashes (past the side buffer, so the sorted views are used), clusters
    of near copies, and queries at every distance from 0 to 40 of stored hashes."""
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 2**64, size=(40_000, 4), dtype=np.uint64)
    stored[:300] = flip_bits(rng, stored[300:600], rng.integers(0, 12, 300))  # near-duplicates
    queries = flip_bits(rng, stored[rng.integers(0, len(stored), 600)], rng.integers(0, 41, 600))
    return stored, queries


@pytest.fixture(scope="module")
def indexed(workload: tuple[Hashes, Hashes]) -> tuple[Hashes, PDQIndex]:
    """The workload's hashes in an index, the last 200 added one at a time (side buffer)."""
    stored = workload[0]
    index = PDQIndex()
    index.add(stored[:-200])
    for row in range(len(stored) - 200, len(stored)):
        index.add(stored[row : row + 1])
    return stored, index


@st.composite
def query_batches(draw: st.DrawFn, stored: Hashes) -> Hashes:
    """1 to 60 queries: stored hashes (often the planted near-duplicates, 0..299, or those
    they copy, 300..599) with 0 to 40 bits flipped, and random hashes."""
    some_stored = st.one_of(st.integers(0, 599), st.integers(0, len(stored) - 1))
    rows = []
    for _ in range(draw(st.integers(1, 60))):
        if draw(st.booleans()):
            row = stored[draw(some_stored)].copy()
            for bit in draw(st.lists(st.integers(0, 255), max_size=40, unique=True)):
                row[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
        else:
            words = draw(st.lists(st.integers(0, 2**64 - 1), min_size=4, max_size=4))
            row = np.array(words, dtype=np.uint64)
        rows.append(row)
    return np.stack(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), radius=st.integers(0, MAX_DISTANCE))
def test_a_batch_finds_what_its_queries_find_one_by_one_and_brute_force_finds(
    indexed: tuple[Hashes, PDQIndex], data: st.DataObject, radius: int
) -> None:
    stored, index = indexed
    queries = data.draw(query_batches(stored))
    batched = index.search(queries, radius)
    assert batched == [index.search(queries[i : i + 1], radius)[0] for i in range(len(queries))]
    assert batched == brute_force(stored, queries, radius)


def test_more_matches_than_the_first_guess_are_all_returned() -> None:
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 2**64, size=(20_000, 4), dtype=np.uint64)
    stored[:500] = stored[500]  # 501 copies: more rows than the kernel first makes room for
    index = PDQIndex()
    index.add(stored)
    [found] = index.search(stored[500:501], 31)
    assert found == [(i, 0) for i in range(501)]
    assert index.search(np.empty((0, 4), dtype=np.uint64), 31) == []


@pytest.mark.parametrize("radius", [0, 3, 7, 15, 16, 24, 31])
def test_search_equals_brute_force(workload: tuple[Hashes, Hashes], radius: int) -> None:
    stored, queries = workload
    index = PDQIndex()
    index.add(stored)
    expected = brute_force(stored, queries, radius)
    assert index.search(queries, radius) == expected
    assert sum(map(len, expected)) >= 10  # the workload does exercise matching


def test_hashes_added_one_by_one_are_found_at_once(workload: tuple[Hashes, Hashes]) -> None:
    stored, queries = workload
    index = PDQIndex()
    index.add(stored[:30_000])
    for row in range(30_000, 30_400):  # into the side buffer, no rebuild
        index.add(stored[row : row + 1])
        assert index.search(stored[row : row + 1], 0)[0][0] == (row, 0)
    index.add(stored[30_400:])  # the rest overflows the side buffer: merged
    assert len(index) == len(stored)
    assert index.search(queries, 31) == brute_force(stored, queries, 31)


def test_real_hashes_from_the_pdq_regression_set() -> None:
    folder = SHARED_DATA / "pdq" / "data" / "reg-test-input"
    haystack = hashes_from_hex(folder.joinpath("haystack.txt").read_text().split())
    needles = hashes_from_hex(folder.joinpath("needles.txt").read_text().split())
    index = PDQIndex()
    index.add(haystack)
    for radius in (0, 16, 31):
        assert index.search(needles, radius) == brute_force(haystack, needles, radius)
    assert sum(map(len, index.search(needles, 31))) > 0


def test_duplicates_are_kept_with_their_own_ids() -> None:
    index = PDQIndex()
    index.add(hashes_from_hex(["ab" * 32, "ab" * 32]))
    assert index.search(hashes_from_hex(["ab" * 32]), 0) == [[(0, 0), (1, 0)]]


def test_hex_round_trip_and_limits() -> None:
    value = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    index = PDQIndex()
    assert index.search(hashes_from_hex([value]), 31) == [[]]
    index.add(hashes_from_hex([value]))
    assert hex_of(index.hash_words(0)) == value
    with pytest.raises(ValueError, match="between 0 and 31"):
        index.search(hashes_from_hex([value]), MAX_DISTANCE + 1)
    with pytest.raises(ValueError, match="64 hex digits"):
        hashes_from_hex(["abc"])
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        index.add(np.zeros((2, 3), dtype=np.uint64))


def test_memory_is_reported_per_hash(workload: tuple[Hashes, Hashes]) -> None:
    index = PDQIndex()
    index.add(workload[0])
    assert 200 <= (index.nbytes - (16 * 65537 * 8)) / len(index) <= 260
