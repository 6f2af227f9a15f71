"""Real text: the shipped confusables table is Unicode's, and packs of the demo's kind
(with names in Roman Urdu spellings and in Urdu script, which match their romanisations)
raise nothing on 24,783 real tweets and on Arabic and Urdu sentences."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from postwatch.rules import Engine, load_packs, post_from_dict
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).parents[4]
PACKS = [
    ROOT / "postwatch" / "data" / "demo" / "pack.yaml",
    ROOT / "tests" / "files" / "packs" / "selftested.yaml",
    ROOT / "tests" / "files" / "packs" / "evasion.yaml",
    ROOT / "tests" / "files" / "packs" / "roman-urdu.yaml",
]


def test_shipped_confusables_are_verbatim_lines_of_unicode_data() -> None:
    shipped = (
        resources.files("postwatch.rules.matching")
        .joinpath("data/confusables-14.0.0-latin.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    source = (SHARED_DATA / "confusables" / "confusables.txt").read_text(encoding="utf-8-sig")
    assert "# Version: 14.0.0" in source
    lines = {line.rstrip() for line in source.splitlines()}
    data = [line for line in shipped if not line.startswith("#")]
    assert len(data) > 700
    assert all(line in lines for line in data)


def posts(texts: list[str]) -> list[dict[str, object]]:
    return [
        {
            "schema": "postwatch.post/1",
            "id": f"real:{i}",
            "source": "mastodon",
            "author": {"id": "real:someone"},
            "created_at": "2025-01-01T00:00:00Z",
            "text": text,
        }
        for i, text in enumerate(texts)
    ]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_packs(PACKS))


def test_no_alert_on_real_tweets(engine: Engine) -> None:
    with (SHARED_DATA / "corpus_tweets_davidson" / "labeled_data.csv").open(encoding="utf-8") as f:
        tweets = [row["tweet"] for row in csv.DictReader(f)]
    assert len(tweets) == 24_783
    alerts = [
        (doc["text"], [e.matched for e in m.evidence])
        for doc in posts(tweets)
        for m in engine.evaluate(post_from_dict(doc))
        if m.rule.status.value == "live"
    ]
    assert alerts == []


def test_no_alert_on_arabic_and_urdu_sentences(engine: Engine) -> None:
    folder = SHARED_DATA / "arabic_script"
    texts = [
        line
        for name in ("tatoeba_ara.txt", "tatoeba_urd.txt")
        for line in (folder / name).read_text(encoding="utf-8").splitlines()
    ]
    with (folder / "ud_arabic_pud_test_sentences.tsv").open(encoding="utf-8") as f:
        texts += [row["text"] for row in csv.DictReader(f, delimiter="\t")]
    assert len(texts) > 1900
    assert [m.rule.id for doc in posts(texts) for m in engine.evaluate(post_from_dict(doc))] == []
