"""Look-alike accounts: how many innocent handles each watched name flags.

    python benchmarks/lookalike_bench.py [--watched 100]

Takes the real handles the Davidson tweets mention (../shared/data), watches a sample of
them (five letters or more), and counts, for each, the other handles that would raise a
look-alike alert: by the detector's rule (`lookalike.allowed_edits` edits of
`lookalike.distance`, weighed by look, or containing the name) and by the plain rule it
replaced (two Levenshtein edits whatever the length, or containing the name). Handles are
other people's accounts, so every one flagged is innocent. Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import time
from pathlib import Path

from postwatch.rules.detectors.lookalike import _compact, allowed_edits, distance

_CORPUS = Path(__file__).parent.parent / "../shared/data/corpus_tweets_davidson/labeled_data.csv"
_HANDLE = re.compile(r"@(\w{1,15})")
MOST = 2


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watched", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with _CORPUS.open(encoding="utf-8") as f:
        raw = {h.lower() for row in csv.DictReader(f) for h in _HANDLE.findall(row["tweet"])}
    handles = sorted({_compact(h) for h in raw} - {""})
    names = [h for h in handles if len(h) >= 5]
    watched = random.Random(args.seed).sample(names, min(args.watched, len(names)))  # noqa: S311
    started = time.perf_counter()
    plain: list[int] = []
    weighed: list[int] = []
    examples: list[tuple[str, str]] = []
    for name in watched:
        near = [h for h in handles if h != name and abs(len(h) - len(name)) <= 2 * MOST]
        contains = {h for h in handles if h != name and name in h}
        old = contains | {h for h in near if _levenshtein(h, name) <= MOST}
        new = contains | {h for h in near if distance(h, name, MOST) <= allowed_edits(name, MOST)}
        plain.append(len(old))
        weighed.append(len(new))
        examples += [(name, h) for h in sorted(new - contains)[:1]]
    elapsed = time.perf_counter() - started
    print(f"{len(handles):,} handles; {len(watched)} watched names of 5 letters or more")
    for label, counts in (("plain, 2 edits", plain), ("weighed, by length", weighed)):
        print(
            f"{label:>20}: {sum(counts):>5} innocent handles flagged, "
            f"{sum(c > 0 for c in counts):>3} watched names flag any, most {max(counts)}"
        )
    print(f"examples still flagged (not by containment): {examples[:8]}")
    print(f"{elapsed:.1f} s")


if __name__ == "__main__":
    main()
