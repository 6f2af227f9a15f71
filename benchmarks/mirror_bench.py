"""Text fingerprints: choosing the reappearance threshold on 24,783 real tweets.

    python benchmarks/mirror_bench.py [--corpus CSV] [--sample 2000]

Fingerprints every tweet of the Davidson corpus as `rules.detectors.learning` does (MinHash of
folded word bigrams; tweets under MirrorConfig.min_words words are not fingerprinted) and,
for each candidate threshold, prints:

- false positives: pairs of different tweets whose estimated similarity reaches the threshold
  although their exact bigram Jaccard similarity is under 0.2 (unrelated tweets that would
  wrongly match), as a count and as a rate over all pairs; and all pairs that reach it, most of
  which are retweets of one another (real near-copies);
- recall on edited copies of a sample of tweets of at least 12 words: two or three words
  replaced, the two halves swapped (reordered sentences), emoji added with one word replaced.

Pairs are found with an LSH at a threshold below every candidate, then scored exactly.
Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path

from datasketch import MinHashLSH

from postwatch.rules.detectors.learning import NUM_PERM, fingerprint, similarity
from postwatch.rules.detectors.mirror import MirrorConfig
from postwatch.rules.matching.normalize import fold

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
UNRELATED = 0.2
_CORPUS = Path(__file__).parent.parent / "../shared/data/corpus_tweets_davidson/labeled_data.csv"
_FILLER = ["banana", "river", "yellow", "window", "quietly", "seven", "market", "cloud"]
_EMOJI = ["🔥", "😂", "👍", "🇺🇸", "💯"]


def _bigrams(text: str) -> set[str]:
    words = fold(text).text.split()
    return {" ".join(words[i : i + 2]) for i in range(len(words) - 1)}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _replace(words: list[str], n: int, rng: random.Random) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), n):
        out[i] = rng.choice(_FILLER)
    return out


def _edits(text: str, rng: random.Random) -> dict[str, str]:
    words = text.split()
    half = len(words) // 2
    emoji = _replace(words, 1, rng)
    emoji.insert(rng.randrange(len(emoji)), rng.choice(_EMOJI))
    return {
        "2 words replaced": " ".join(_replace(words, 2, rng)),
        "3 words replaced": " ".join(_replace(words, 3, rng)),
        "halves swapped": " ".join(words[half:] + words[:half]),
        "emoji + 1 word": " ".join(emoji) + " " + rng.choice(_EMOJI),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=_CORPUS)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20251128)
    args = parser.parse_args()
    config = MirrorConfig()
    with args.corpus.open(encoding="utf-8", newline="") as f:
        tweets = [row["tweet"] for row in csv.DictReader(f)]
    started = time.perf_counter()
    signatures = {i: s for i, t in enumerate(tweets) if (s := fingerprint(t, config.min_words))}
    elapsed = time.perf_counter() - started
    print(
        f"{len(tweets)} tweets, {len(signatures)} fingerprinted (>= {config.min_words} words), "
        f"{len(signatures) / elapsed:,.0f} fingerprints/s"
    )
    lsh = MinHashLSH(threshold=min(THRESHOLDS) - 0.1, num_perm=NUM_PERM)
    for i, signature in signatures.items():
        lsh.insert(i, signature)
    scored: list[tuple[float, float]] = []  # (estimate, exact) of each candidate pair
    for i, signature in signatures.items():
        for j in lsh.query(signature):
            if j > i:
                exact = _jaccard(_bigrams(tweets[i]), _bigrams(tweets[j]))
                scored.append((similarity(signature, signatures[j]), exact))
    pairs = len(signatures) * (len(signatures) - 1) // 2
    rng = random.Random(args.seed)  # noqa: S311 - edits for a measurement, not secrets
    long = [t for t in tweets if len(t.split()) >= 12]
    sample = rng.sample(long, min(args.sample, len(long)))
    edited = [(fingerprint(t, config.min_words), _edits(t, rng)) for t in sample]
    recall_scores: dict[str, list[float]] = {}
    for original, variants in edited:
        for name, text in variants.items():
            copy = fingerprint(text, config.min_words)
            score = similarity(original, copy) if original and copy else 0.0
            recall_scores.setdefault(name, []).append(score)
    print(f"{pairs:,} pairs of fingerprinted tweets; {len(sample)} edited samples")
    header = f"{'threshold':>9}  {'false pos':>9}  {'FP rate':>9}  {'all pairs':>9}  recall"
    print(header)
    for threshold in THRESHOLDS:
        flagged = [exact for estimate, exact in scored if estimate >= threshold]
        wrong = sum(exact < UNRELATED for exact in flagged)
        recall = "  ".join(
            f"{name}: {sum(s >= threshold for s in scores) / len(scores):.3f}"
            for name, scores in recall_scores.items()
        )
        print(f"{threshold:>9.2f}  {wrong:>9}  {wrong / pairs:>9.2e}  {len(flagged):>9}  {recall}")


if __name__ == "__main__":
    main()
