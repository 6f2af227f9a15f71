"""What `rules publish` and `rules bank` put on the live topics, decided without a broker:
the records of the packs that changed, and the bank entries of checked hashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from postwatch.rules import Pack, PackError, parse_pack
from postwatch.rules.language.published import (
    BankEntry,
    NotStandalone,
    PublishedPack,
    bank_entries,
    published_versions,
    to_publish,
)

NOW = datetime(2025, 7, 25, 10, 0, tzinfo=UTC)
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
PACK = """pack: live
version: {version}
rules:
  - id: r1
    title: names
    match: {{keywords: ["example front"]}}
"""
SECOND_RULE = """  - id: r2
    title: calls
    match: {keywords: ["sample brigade"]}
"""


def loaded(text: str, folder: Path | None = None) -> tuple[Pack, str]:
    return parse_pack(text, "packs/live.yaml", folder=folder), text


def test_a_new_pack_is_published_and_the_same_text_again_is_not() -> None:
    text = PACK.format(version=1)
    [first] = to_publish([loaded(text)], [], now=NOW, by="ops")
    assert first is not None
    assert (first.pack, first.version, first.text) == ("live", 1, text)
    assert (first.published_at, first.published_by) == (NOW, "ops")
    assert first.changes == ("new pack with 1 rules",)
    assert to_publish([loaded(text)], [first], now=NOW, by="ops") == [None]


def test_a_new_version_says_what_changed_against_the_last_one() -> None:
    history: list[PublishedPack] = []
    for text, changes in [
        (PACK.format(version=1), ("new pack with 1 rules",)),
        (PACK.format(version=2) + SECOND_RULE, ("added r2",)),
        (PACK.format(version=3), ("removed r2",)),
    ]:
        [record] = to_publish([loaded(text)], history, now=NOW, by="ops")
        assert record is not None
        assert record.changes == changes
        history.append(record)


def test_nothing_is_published_when_one_pack_would_not_load_on_a_worker(tmp_path: Path) -> None:
    (tmp_path / "known.txt").write_text(f"pdq {PDQ}\n")
    banked = (
        PACK.format(version=1).replace("live", "banked") + "banks:\n  known: {file: known.txt}\n"
    )
    packs = [loaded(PACK.format(version=1)), loaded(banked, folder=tmp_path)]
    with pytest.raises(NotStandalone) as refused:
        to_publish(packs, [], now=NOW, by="ops")
    assert refused.value.source_file == "packs/live.yaml"
    assert "names a file" in str(refused.value.problems[0])


def test_records_that_are_no_published_pack_are_passed_over_in_order() -> None:
    text = PACK.format(version=1)
    good = PublishedPack("live", 1, text, "c0ffee", NOW, "ops")
    values = [
        b"\xff{",
        None,
        good.encode(),
        b"[1, 2]",
        b'{"pack": "live"}',
        orjson.dumps({**orjson.loads(good.encode()), "version": "two"}),
        orjson.dumps({**orjson.loads(good.encode()), "changes": 3}),
        b"[" * 2000 + b"]" * 2000,
    ]
    assert published_versions(values) == [good]


def test_bank_entries_are_checked_and_each_hash_comes_once(tmp_path: Path) -> None:
    listed = tmp_path / "hashes.txt"
    listed.write_text(f"pdq {PDQ}\n{MD5}\n")
    entries = bank_entries("live", "known", [("pdq", PDQ.upper()), ("md5", MD5)], listed)
    assert [(e.pack, e.bank, e.algo, e.value) for e in entries] == [
        ("live", "known", "md5", MD5),
        ("live", "known", "pdq", PDQ),
    ]
    with pytest.raises(ValueError, match="pdq"):
        bank_entries("live", "known", [("pdq", "abc")])
    listed.write_text("pdq 1234\n")
    with pytest.raises(PackError):
        bank_entries("live", "known", [], listed)


def test_records_as_published_before_decode_and_encode_to_the_same_documents() -> None:
    text = PACK.format(version=1)
    written = {  # as `rules publish` and `rules bank` have written them
        "pack": "live",
        "version": 1,
        "content_hash": "c0ffee",
        "published_at": "2025-07-25T10:00:00.000Z",
        "published_by": "ops",
        "changes": ["new pack with 1 rules"],
        "text": text,
    }
    published = PublishedPack.decode(orjson.dumps(written))
    changes = ("new pack with 1 rules",)
    assert published == PublishedPack("live", 1, text, "c0ffee", NOW, "ops", changes)
    again = orjson.loads(published.encode())
    assert again == written | {"published_at": again["published_at"]}
    assert datetime.fromisoformat(again["published_at"]) == NOW
    entry = {"pack": "live", "bank": "known", "algo": "pdq", "hash": PDQ}
    assert BankEntry.decode(orjson.dumps(entry)) == BankEntry("live", "known", "pdq", PDQ)
    assert orjson.loads(BankEntry("live", "known", "pdq", PDQ).encode()) == entry
