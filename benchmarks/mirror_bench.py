"""Text fingerprints: choosing the reappearance thresholds on 24,783 real tweets.

    python benchmarks/mirror_bench.py [--corpus CSV] [--sample 2000]

Fingerprints every tweet of the Davidson corpus as `rules.detectors.learning` does (MinHash of
the word bigrams, and the bigrams; tweets under MirrorConfig.min_words words are not
fingerprinted) and prints two tables.

Jaccard, for each candidate threshold:

- false positives: pairs of different tweets whose estimated similarity reaches the threshold
  although their exact bigram Jaccard similarity is under 0.2 (unrelated tweets that would
  wrongly match), as a count and as a rate over all pairs; and all pairs that reach it, most of
  which are retweets of one another (real near-copies);
- recall on edited copies of a sample of tweets of at least 12 words: two or three words
  replaced, the two halves swapped (reordered sentences), emoji added with one word replaced.

Containment (a passage of five words shared, and this share of either text's bigrams), with
the 1,000 English sentences of ../shared/data/parallel learned as statements, for each
candidate threshold:

- false positives: the tweets that the detector's rule (Jaccard at
  MirrorConfig.text_threshold, or containment at the candidate) finds near a statement
  (none is a copy of one);
- recall of that rule on copies of each statement: a third of its words quoted with as many
  words of commentary (a tweet's) around them, each half alone (a statement split over two
  posts), and the whole inside a longer post (after a tweet).

Jaccard pairs are found with an LSH at a threshold below every candidate and then scored
exactly; containment is counted exactly. Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path

from datasketch import MinHashLSH

from postwatch.rules.detectors.learning import (
    MIN_SHARED,
    NUM_PERM,
    Fingerprint,
    containment,
    fingerprint,
    similarity,
)
from postwatch.rules.detectors.mirror import MirrorConfig

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
CONTAINMENT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
UNRELATED = 0.2
_DATA = Path(__file__).parent.parent / "../shared/data"
_CORPUS = _DATA / "corpus_tweets_davidson" / "labeled_data.csv"
_STATEMENTS = _DATA / "parallel" / "ud_pud_en_ar.tsv"
_FILLER = ["banana", "river", "yellow", "window", "quietly", "seven", "market", "cloud"]
_EMOJI = ["🔥", "😂", "👍", "🇺🇸", "💯"]


def _bigrams(text: str) -> frozenset[int]:
    """The text's bigrams as the detector counts them (hashes), however short the text."""
    found = fingerprint(text, 0)
    return found.shingles if found else frozenset()


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
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


def _quotes(text: str, commentary: str, rng: random.Random) -> dict[str, str]:
    words = text.split()
    third = max(1, len(words) // 3)
    start = rng.randrange(len(words) - third + 1)
    comment = commentary.split()[:third]
    cut = rng.randrange(len(comment) + 1)
    half = len(words) // 2
    return {
        "third quoted": " ".join([*comment[:cut], *words[start : start + third], *comment[cut:]]),
        "first half": " ".join(words[:half]),
        "second half": " ".join(words[half:]),
        "inside a longer post": f"{commentary} {text}",
    }


def _jaccard_table(tweets: list[str], prints: dict[int, Fingerprint], sample: list[str]) -> None:
    config = MirrorConfig()
    lsh = MinHashLSH(threshold=min(THRESHOLDS) - 0.1, num_perm=NUM_PERM)
    for i, text in prints.items():
        lsh.insert(i, text.signature)
    scored: list[tuple[float, float]] = []  # (estimate, exact) of each candidate pair
    for i, text in prints.items():
        for j in lsh.query(text.signature):
            if j > i:
                exact = _jaccard(_bigrams(tweets[i]), _bigrams(tweets[j]))
                scored.append((similarity(text.signature, prints[j].signature), exact))
    pairs = len(prints) * (len(prints) - 1) // 2
    rng = random.Random(0)  # noqa: S311 - edits for a measurement, not secrets
    recall_scores: dict[str, list[float]] = {}
    for tweet in sample:
        original = fingerprint(tweet, config.min_words)
        for name, edited in _edits(tweet, rng).items():
            copy = fingerprint(edited, config.min_words)
            score = similarity(original.signature, copy.signature) if original and copy else 0.0
            recall_scores.setdefault(name, []).append(score)
    print(f"\nJaccard: {pairs:,} pairs of fingerprinted tweets; {len(sample)} edited samples")
    print(f"{'threshold':>9}  {'false pos':>9}  {'FP rate':>9}  {'all pairs':>9}  recall")
    for threshold in THRESHOLDS:
        flagged = [exact for estimate, exact in scored if estimate >= threshold]
        wrong = sum(exact < UNRELATED for exact in flagged)
        recall = "  ".join(
            f"{name}: {sum(s >= threshold for s in scores) / len(scores):.3f}"
            for name, scores in recall_scores.items()
        )
        print(f"{threshold:>9.2f}  {wrong:>9}  {wrong / pairs:>9.2e}  {len(flagged):>9}  {recall}")


def _containment_table(tweets: list[str], prints: dict[int, Fingerprint]) -> None:
    """Learned: the 1,000 English sentences of the translation pairs (news statements of 21
    words on average); negatives: every fingerprinted tweet (none is a copy of one)."""
    config = MirrorConfig()
    with _STATEMENTS.open(encoding="utf-8") as f:
        statements = [r["en"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    learned = [s for text in statements if (s := fingerprint(text, config.min_words))]
    index: dict[int, set[int]] = {}
    for k, original in enumerate(learned):
        for bigram in original.shingles:
            index.setdefault(bigram, set()).add(k)

    def best(text: Fingerprint | None) -> tuple[float, float]:
        """The highest Jaccard and containment (where a passage is shared) of the text to
        any learned statement."""
        if text is None:
            return 0.0, 0.0
        found = {k for bigram in text.shingles for k in index.get(bigram, ())}
        scores = [(0.0, 0.0)]
        for k in found:
            run, share = containment(text, learned[k].shingles)
            jaccard = similarity(text.signature, learned[k].signature)
            scores.append((jaccard, share if run >= MIN_SHARED else 0.0))
        return max(s[0] for s in scores), max(s[1] for s in scores)

    negatives = [best(text) for text in prints.values()]
    rng = random.Random(1)  # noqa: S311 - copies for a measurement, not secrets
    copies: dict[str, list[tuple[float, float]]] = {}
    for statement in statements:
        for name, quoted in _quotes(statement, rng.choice(tweets), rng).items():
            copies.setdefault(name, []).append(best(fingerprint(quoted, config.min_words)))
    print(
        f"\nContainment (a passage of {MIN_SHARED + 1} words shared), Jaccard at "
        f"{config.text_threshold}: {len(learned)} statements learned, {len(negatives):,} "
        "tweets as negatives"
    )
    print(f"{'threshold':>9}  {'tweets':>6}  recall")
    for threshold in CONTAINMENT_THRESHOLDS:

        def caught(found: list[tuple[float, float]], threshold: float = threshold) -> int:
            return sum(j >= config.text_threshold or c >= threshold for j, c in found)

        recall = "  ".join(
            f"{name}: {caught(found) / len(found):.3f}" for name, found in copies.items()
        )
        print(f"{threshold:>9.2f}  {caught(negatives):>6}  {recall}")


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
    prints = {i: s for i, t in enumerate(tweets) if (s := fingerprint(t, config.min_words))}
    elapsed = time.perf_counter() - started
    print(
        f"{len(tweets)} tweets, {len(prints)} fingerprinted (>= {config.min_words} words), "
        f"{len(prints) / elapsed:,.0f} fingerprints/s"
    )
    rng = random.Random(args.seed)  # noqa: S311 - a sample for a measurement, not secrets
    long = [t for t in tweets if len(t.split()) >= 12]
    sample = rng.sample(long, min(args.sample, len(long)))
    _jaccard_table(tweets, prints, sample)
    _containment_table(tweets, prints)


if __name__ == "__main__":
    main()
