"""PDQ matching at a million hashes: postwatch's index against FAISS brute force.

    pip install -e '.[bench]'
    python benchmarks/pdq_bench.py [--size 1000000] [--queries 2000] [--posts 20000]

Builds a bank of random PDQ hashes with planted near-duplicates, and measures in one run,
on one core: queries per second of `PDQIndex` at distance <= 31 and of FAISS
`IndexBinaryFlat` on the same queries; build time; memory per hash; recall against the
brute-force answer (must be 1.0); the cost of adding hashes one at a time. Queries are
timed all in one batch, in batches of 200 (what a worker's batch of 2,000 posts with 10 %
media asks) and one at a time, best of three rounds, in the index and through `BankSet`
lookups (hits built included). Then it times `postwatch match` over posts carrying PDQ
hashes against a rule pack whose bank file holds the same million hashes, loading
included (`--posts 0` leaves it out). Prints figures; checks nothing but recall and that
batched lookups find what one-at-a-time lookups find.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from postwatch.rules.matching.matchers.pdq import PDQIndex

RADIUS = 31
BATCH = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20250725)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import faiss  # noqa: PLC0415 - after the thread count is set

    from postwatch.rules.matching.matchers.pdq import PDQIndex  # noqa: PLC0415

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    bank, queries = workload(rng, args.size, args.queries)
    print(f"bank: {len(bank):,} PDQ hashes; {len(queries):,} queries, half near a bank hash")

    started = time.perf_counter()
    index = PDQIndex()
    index.add(bank)
    build = time.perf_counter() - started
    index.search(queries[:1], RADIUS)  # compile the search loops (or load numba's cache)
    print(f"postwatch PDQIndex: build {build:.2f} s, {index.nbytes / len(index):.0f} B/hash")

    flat = faiss.IndexBinaryFlat(256)
    started = time.perf_counter()
    flat.add(bank.view(np.uint8))
    print(f"FAISS IndexBinaryFlat: build {time.perf_counter() - started:.2f} s, 32 B/hash")

    ours = index.search(queries, RADIUS)
    ours_qps = rate(index, queries, len(queries))
    batch_qps = rate(index, queries, BATCH)
    single_qps = rate(index, queries, 1)

    started = time.perf_counter()
    limits, distances, ids = flat.range_search(queries.view(np.uint8), RADIUS + 1)  # d < r
    flat_qps = len(queries) / (time.perf_counter() - started)

    truth = [
        {(int(i), int(d)) for i, d in zip(ids[a:b], distances[a:b], strict=True)}
        for a, b in itertools.pairwise(limits)
    ]
    found = sum(len(t & set(o)) for t, o in zip(truth, ours, strict=True))
    expected = sum(map(len, truth))
    extra = sum(len(set(o) - t) for t, o in zip(truth, ours, strict=True))
    recall = found / expected if expected else 1.0
    print(
        f"matches at d <= {RADIUS}: {expected:,} (brute force), recall {recall:.4f}, {extra} extra"
    )
    print(
        f"queries/s, one core: PDQIndex {ours_qps:,.0f} in one batch, {batch_qps:,.0f} in "
        f"batches of {BATCH}, {single_qps:,.0f} one by one;"
    )
    print(f"                     FAISS IndexBinaryFlat {flat_qps:,.0f}")
    print(
        f"ratio PDQIndex / FAISS flat: {ours_qps / flat_qps:.1f}x batched, "
        f"{single_qps / flat_qps:.1f}x one by one"
    )
    if recall != 1.0 or extra:
        sys.exit("recall is not 1.0: the index is wrong")
    time_banks(bank, queries)

    adds = rng.integers(0, 2**64, size=(20_000, 4), dtype=np.uint64)
    started = time.perf_counter()
    for row in range(len(adds)):
        index.add(adds[row : row + 1])
    took = time.perf_counter() - started
    print(
        f"adding {len(adds):,} hashes one at a time: {took / len(adds) * 1e6:.0f} us each "
        f"on average, sorted views merged once past the side buffer"
    )

    if args.posts:
        time_match(rng, bank, args.posts)


def rate(index: PDQIndex, queries: np.ndarray, batch: int, rounds: int = 3) -> float:
    """Queries per second searching `queries` in batches of `batch`, best of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for first in range(0, len(queries), batch):
            index.search(queries[first : first + batch], RADIUS)
        best = min(best, time.perf_counter() - started)
    return len(queries) / best


def time_banks(bank: np.ndarray, queries: np.ndarray) -> None:
    """Media per second through `BankSet`, as the engine asks: one at a time (`lookup`)
    and in batches of 200 (`lookup_many`), hits built included."""
    from postwatch.rules.language.model import Media  # noqa: PLC0415
    from postwatch.rules.matching.banks import BankSet, HashBank  # noqa: PLC0415 - see main

    hashes = HashBank("bench")
    hashes.add_many(("pdq", row.tobytes().hex(), None) for row in bank)
    banks = BankSet([hashes])
    media = [Media(pdq=row.tobytes().hex(), pdq_quality=100) for row in queries]
    one_by_one = [banks.lookup(item) for item in media]
    if banks.lookup_many(media) != one_by_one:
        sys.exit("lookup_many differs from lookup one at a time")
    rates = []
    for batch in (1, BATCH):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for first in range(0, len(media), batch):
                banks.lookup_many(media[first : first + batch])
            best = min(best, time.perf_counter() - started)
        rates.append(len(media) / best)
    print(
        f"media/s, one core: BankSet {rates[0]:,.0f} one at a time, {rates[1]:,.0f} in "
        f"batches of {BATCH} ({sum(map(len, one_by_one)):,} hits)"
    )


def workload(rng: np.random.Generator, size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random hashes, 1% of them planted near-duplicates of others (2..20 bits away), and
    queries: half 0..31 bits from a bank hash, half random."""
    bank = rng.integers(0, 2**64, size=(size, 4), dtype=np.uint64)
    planted = size // 100
    bank[:planted] = flip(rng, bank[rng.integers(planted, size, planted)], 2, 21)
    near = flip(rng, bank[rng.integers(0, size, count // 2)], 0, RADIUS + 1)
    far = rng.integers(0, 2**64, size=(count - len(near), 4), dtype=np.uint64)
    return bank, np.concatenate([near, far])


def flip(rng: np.random.Generator, hashes: np.ndarray, low: int, high: int) -> np.ndarray:
    out = hashes.copy()
    bits = out.view(np.uint8).reshape(len(out), 32)
    for row in range(len(out)):
        for bit in rng.choice(256, int(rng.integers(low, high)), replace=False):
            bits[row, bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def time_match(rng: np.random.Generator, bank: np.ndarray, posts: int) -> None:
    """`postwatch match` over posts with PDQ hashes, against the bank as a file."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        hexes = [row.tobytes().hex() for row in bank]
        (root / "bank.txt").write_text("".join(f"pdq {h}\n" for h in hexes))
        (root / "pack.yaml").write_text(
            "pack: bench\nversion: 1\n"
            "banks:\n  known:\n    file: bank.txt\n    pdq_max_distance: 31\n"
            "rules:\n  - id: known-media\n    title: Known media\n    severity: high\n"
            "    match: {hashes: {bank: known}}\n"
        )
        near = flip(rng, bank[rng.integers(0, len(bank), posts // 10)], 0, RADIUS + 1)
        other = rng.integers(0, 2**64, size=(posts - len(near), 4), dtype=np.uint64)
        with (root / "posts.jsonl").open("w") as out:
            for i, row in enumerate(np.concatenate([near, other])):
                out.write(
                    json.dumps(
                        {
                            "schema": "postwatch.post/1",
                            "id": f"bench:{i}",
                            "source": "bench",
                            "author": {"id": "bench:a"},
                            "created_at": "2025-07-25T10:00:00Z",
                            "text": "",
                            "media": [
                                {"kind": "image", "pdq": row.tobytes().hex(), "pdq_quality": 100}
                            ],
                        }
                    )
                    + "\n"
                )
        command = [
            sys.executable,
            "-m",
            "postwatch",
            "match",
            "--rules",
            str(root / "pack.yaml"),
            "--input",
            str(root / "posts.jsonl"),
            "--output",
            str(root / "alerts.jsonl"),
        ]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        took = time.perf_counter() - started
        if result.returncode != 0:
            print(f"postwatch match failed ({result.returncode}): {result.stderr.strip()[-500:]}")
            return
        alerts = sum(1 for _ in (root / "alerts.jsonl").open())
        print(
            f"postwatch match: {posts:,} posts against a {len(bank):,}-hash bank file in "
            f"{took:.1f} s, loading included; {alerts:,} alerts "
            f"({len(near):,} posts were planted within distance {RADIUS})"
        )


if __name__ == "__main__":
    main()
