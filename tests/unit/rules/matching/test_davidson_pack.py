"""The example pack built from the Davidson et al. lexicon, backtested over its labelled
corpus of 24,783 tweets: hit rates per label are what the data says they should be."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from postwatch.rules import Engine, post_from_dict
from postwatch.rules.language.selftest import compile_tested
from tests.conftest import SHARED_DATA

PACK = Path(__file__).parents[4] / "examples" / "packs" / "davidson.yaml"
CORPUS = SHARED_DATA / "corpus_tweets_davidson"
LABELS = {"0": "hate speech", "1": "offensive", "2": "neither"}


@pytest.fixture(scope="module")
def tweets() -> list[tuple[str, str]]:
    with (CORPUS / "labeled_data.csv").open(encoding="utf-8") as f:
        return [(row["class"], row["tweet"]) for row in csv.DictReader(f)]


def reference_hits(tweets: list[tuple[str, str]]) -> Counter[str]:
    """Tweets per label that hold a lexicon n-gram, by a plain lower-case word search:
    what the data says, without any of postwatch's folding."""
    with (CORPUS / "refined_ngram_dict.csv").open(encoding="utf-8", newline="") as f:
        ngrams = [row["ngram"] for row in csv.DictReader(f)]
    alternation = "|".join(re.escape(n) for n in sorted(ngrams, key=len, reverse=True))
    pattern = re.compile(rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])")
    return Counter(label for label, text in tweets if pattern.search(text.lower()))


def test_hit_rates_per_label_match_the_data(tweets: list[tuple[str, str]]) -> None:
    engine: Engine = compile_tested([PACK])  # the pack passes its own tests too
    assert len(tweets) == 24_783
    totals = Counter(label for label, _ in tweets)
    hits: Counter[str] = Counter()
    for i, (label, text) in enumerate(tweets):
        post = post_from_dict(
            {
                "schema": "postwatch.post/1",
                "id": f"davidson:{i}",
                "source": "twitter",
                "author": {"id": "twitter:anonymous"},
                "created_at": "2017-01-01T00:00:00Z",
                "text": text,
            }
        )
        hits[label] += bool(engine.evaluate(post))
    expected = reference_hits(tweets)
    rates = {label: hits[label] / totals[label] for label in LABELS}
    for label, name in LABELS.items():
        # folding finds a few more (hashtags such as #whitetrash), never fewer or many more
        assert hits[label] >= expected[label] - 1, name
        assert rates[label] - expected[label] / totals[label] < 0.005, name
    # a hate-speech lexicon: most hits in hate speech, few in offensive, almost none else
    assert rates["0"] > 0.4
    assert rates["0"] > 10 * rates["1"] > 5 * rates["2"]
    assert rates["2"] < 0.01
