"""Semantic reappearance: choosing the embedding threshold, and what it costs.

    python benchmarks/semantic_bench.py [--model FOLDER] [--tweets 24783]

With the configured embedding model (default: USE multilingual v3 as the `semantic` extra
installs it), on ../shared/data:

1. the 1,000 English-Arabic translation pairs of `parallel/ud_pud_en_ar.tsv`: for each
   candidate threshold, the recall on translations (Arabic post, English original learned,
   and the other way round) and the false matches among the 999,000 pairs of different
   sentences;
2. negatives: the highest similarity of any of the Davidson tweets and of the Tatoeba Urdu
   and Arabic lines to any of the 1,000 English sentences learned, and how many pairs pass
   each threshold;
3. cost: model load, milliseconds per post embedded one at a time (as the worker does) and in
   batches, and, with the 1,000 English sentences learned, the share of the tweets that
   `SemanticIndex.worth` lets through and the microseconds per post of that gate.

Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
import csv
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from postwatch.rules.detectors.learning import Learned
from postwatch.rules.detectors.mirror import MirrorConfig
from postwatch.rules.detectors.semantic import SemanticIndex, UniversalSentenceEncoder

THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8)
_DATA = Path(__file__).parent.parent / "../shared/data"


def _entry(number: int, text: str) -> Learned:
    return Learned(
        "text", "0" * 1024, f"a{number}", f"p{number}", "listed", None, datetime.now(UTC), text
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tweets", type=int, default=24_783)
    args = parser.parse_args()
    started = time.perf_counter()
    model = UniversalSentenceEncoder(args.model)
    model.embed(["warm up"])
    print(f"model loaded in {time.perf_counter() - started:.2f} s")
    with (_DATA / "parallel" / "ud_pud_en_ar.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    english, arabic = [r["en"] for r in rows], [r["ar"] for r in rows]
    started = time.perf_counter()
    vectors_en, vectors_ar = model.embed(english), model.embed(arabic)
    batched = (time.perf_counter() - started) / (2 * len(rows)) * 1000
    started = time.perf_counter()
    for text in arabic[:200]:
        model.embed([text])
    single = (time.perf_counter() - started) / 200 * 1000
    print(f"{single:.2f} ms per post one at a time ({1000 / single:,.0f} posts/s per core), ")
    print(f"{batched:.2f} ms per post in batches of 1,000")
    scores = vectors_ar @ vectors_en.T
    same = np.diag(scores)
    other = scores[~np.eye(len(rows), dtype=bool)]
    with (_DATA / "corpus_tweets_davidson" / "labeled_data.csv").open(encoding="utf-8") as f:
        tweets = [row["tweet"] for row in csv.DictReader(f)][: args.tweets]
    lines = [
        line
        for name in ("tatoeba_urd.txt", "tatoeba_ara.txt")
        for line in (_DATA / "arabic_script" / name).read_text(encoding="utf-8").splitlines()
    ]
    to_tweets = model.embed(tweets) @ vectors_en.T
    to_lines = model.embed(lines) @ vectors_en.T
    print(
        f"\n{len(rows)} translation pairs; negatives: {len(other):,} pairs of different "
        f"sentences, {len(tweets):,} tweets and {len(lines):,} Urdu and Arabic lines against "
        f"the {len(rows)} English sentences (highest: {to_tweets.max():.3f} and "
        f"{to_lines.max():.3f})"
    )
    print(f"{'threshold':>9}  {'recall':>6}  {'false pairs':>11}  {'tweets':>6}  {'lines':>5}")
    for threshold in THRESHOLDS:
        print(
            f"{threshold:>9.2f}  {np.mean(same >= threshold):>6.3f}  "
            f"{int((other >= threshold).sum()):>11}  {int((to_tweets >= threshold).sum()):>6}  "
            f"{int((to_lines >= threshold).sum()):>5}"
        )
    index = SemanticIndex(model, MirrorConfig().embedding_threshold, MirrorConfig().min_words)
    for number, text in enumerate(english):
        index.learn(_entry(number, text))
    started = time.perf_counter()
    worth = sum(index.worth(tweet) for tweet in tweets)
    gate = (time.perf_counter() - started) / len(tweets) * 1e6
    print(
        f"\ngate, {len(rows)} texts learned: {worth:,} of {len(tweets):,} tweets embedded "
        f"({worth / len(tweets):.1%}), {gate:.0f} us per post to decide"
    )


if __name__ == "__main__":
    main()
