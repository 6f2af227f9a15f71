"""Reappearance: who posted the learned content again, and a post is never its own copy."""

from __future__ import annotations

from pathlib import Path

from postwatch.rules import Engine, parse_pack
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from tests.unit.rules.detectors.scenario import EDITED, PACK, STATEMENT, observe, post, run_match


def test_the_same_author_posting_again_is_a_repeat(tmp_path: Path) -> None:
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", STATEMENT),
            post("2", "front", EDITED, minutes=1),
        ],
    )
    assert [a["kind"] for a in alerts] == ["rule", "rule", "reappearance"]
    assert alerts[2]["evidence"][0]["relation"] == "repeat"


def test_a_post_delivered_again_is_not_a_reappearance_of_itself() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig())
    statement = post("1", "front", STATEMENT)
    assert [a["kind"] for a in observe(tracker, engine, statement)] == ["rule"]
    assert [a["kind"] for a in observe(tracker, engine, statement)] == ["rule"]
    assert [a["kind"] for a in observe(tracker, engine, post("2", "x", STATEMENT))] == [
        "reappearance"
    ]
