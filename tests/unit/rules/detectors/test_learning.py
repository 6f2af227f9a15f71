"""Learning: which posts are fingerprinted, and learned entries shared between trackers
(as workers share them on the learned topic) and forgotten."""

from __future__ import annotations

import json
from pathlib import Path

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
    shared = [Learned.from_json(json.loads(json.dumps(e.to_json()))) for e in first.learned()]
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
