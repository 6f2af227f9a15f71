"""Escalation: an author's alerts counted within a sliding window of post times."""

from __future__ import annotations

from postwatch.rules import Engine, parse_pack
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from tests.unit.rules.detectors.scenario import PACK, observe, post


def test_an_author_with_many_alerts_in_the_window_escalates_once() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig(escalation_count=3, escalation_window_s=600))
    kinds = [
        [a["kind"] for a in observe(tracker, engine, post(str(i), "front", "hi", minutes=m))]
        for i, m in enumerate([0, 20, 25, 29, 31, 42, 43, 44])
    ]
    # 0 has left the window when 29 makes three within ten minutes (20, 25, 29); 31 is within
    # that escalation's window; 42, 43, 44 are three more after it
    assert kinds == [["rule"]] * 3 + [["rule", "escalation"]] + [["rule"]] * 3 + [
        ["rule", "escalation"]
    ]
