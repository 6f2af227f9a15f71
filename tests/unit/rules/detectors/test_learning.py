"""Learning: which posts are fingerprinted, and learned entries shared between trackers
(as workers share them on the learned topic) and forgotten."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import orjson
import pytest

from postwatch.rules import Engine, PackError, parse_pack
from postwatch.rules.detectors.learning import Learned
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from tests.unit.rules.detectors.scenario import (
    EDITED,
    IMAGES,
    PACK,
    STATEMENT,
    image_pdq,
    observe,
    post,
    run_match,
)


def test_short_texts_are_not_fingerprinted(tmp_path: Path) -> None:
    alerts = run_match(
        tmp_path,
        [post("1", "front", "march on saturday"), post("2", "x", "march on saturday", minutes=1)],
    )
    assert [a["kind"] for a in alerts] == ["rule"]


def test_learned_entries_teach_another_tracker_and_can_be_forgotten() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    first, second = Tracker(MirrorConfig()), Tracker(MirrorConfig())
    observe(first, engine, post("1", "front", STATEMENT, pdq=image_pdq(IMAGES / "b.jpg")))
    shared = [Learned.decode(e.encode()) for e in first.learned()]
    assert [e.kind for e in shared] == ["text", "pdq"]
    assert all(second.learn(e) for e in shared)
    assert not second.learn(shared[0])  # known already
    assert [a["kind"] for a in observe(second, engine, post("2", "new", EDITED))] == [
        "reappearance"
    ]
    second.forget(shared[0].key)
    assert observe(second, engine, post("3", "other", EDITED)) == []


def test_learn_must_be_a_boolean() -> None:
    with pytest.raises(PackError, match="'learn' must be true or false"):
        parse_pack(PACK.replace("learn: true", "learn: maybe"), "pack.yaml")


PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
RECORD = {  # as workers have written entries to the learned topic
    "kind": "pdq",
    "value": PDQ,
    "alert_id": "a" * 32,
    "post_id": "x:1",
    "author_id": "x:a",
    "author_handle": None,
    "learned_at": "2025-07-25T10:00:00.000Z",
    "excerpt": "text",
}


def test_a_learned_record_decodes_and_encodes_to_the_same_document() -> None:
    entry = Learned.decode(orjson.dumps(RECORD))
    assert entry.learned_at == datetime(2025, 7, 25, 10, tzinfo=UTC)
    assert {**orjson.loads(entry.encode()), "learned_at": RECORD["learned_at"]} == RECORD


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "sha256"},
        {"value": 42},
        {"value": "not hex" * 9},
        {"kind": "text"},  # a PDQ hash is no MinHash signature
        {"author_id": None},
        {"learned_at": "2025-07-25T10:00:00"},  # no time zone
        {"learned_at": "yesterday"},
    ],
)
def test_a_record_that_is_no_learned_entry_does_not_decode(change: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        Learned.decode(orjson.dumps(RECORD | change))
