"""Escalation: an author's alerts counted within a sliding window of post times."""

from __future__ import annotations

from postwatch.rules import Engine, parse_pack
from postwatch.rules.detectors.mirror import AuthorState, MirrorConfig, Tracker
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


def test_an_authors_state_put_back_neither_restarts_a_window_nor_alerts_a_pair_twice() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    accounts = [account for pack in engine.packs for account in pack.accounts]
    config = MirrorConfig(escalation_count=3, escalation_window_s=3600)
    tracker = Tracker(config, accounts)
    lookalike = observe(tracker, engine, post("1", "a", "hi", handle="example_front_official"))
    rules = [observe(tracker, engine, post(n, "front", "hi", minutes=int(n))) for n in "23"]
    assert [a["kind"] for a in lookalike + rules[0] + rules[1]] == ["lookalike_account"] + [
        "rule"
    ] * 2
    states = {state.author_id: state for state in tracker.take_changed()}
    assert tracker.take_changed() == []
    assert states["test:a"].lookalike_of == ("test:front",)
    assert [alert_id for _, alert_id in states["test:front"].recent] == [
        r[0]["alert_id"] for r in rules
    ]
    assert all(AuthorState.decode(s.encode()) == s for s in states.values())

    def third(worker: Tracker) -> list[str]:
        """The kinds of what a look-alike's second post and the third post of the listed
        account raise on this worker."""
        again = post("4", "a", "hi", minutes=4, handle="example_front_official")
        return [
            a["kind"]
            for doc in (again, post("5", "front", "hi", minutes=5))
            for a in observe(worker, engine, doc)
        ]

    # a worker restarted without the states alerts the pair again and restarts the window
    assert third(Tracker(config, accounts)) == ["lookalike_account", "rule"]
    restored = Tracker(config, accounts)
    for state in states.values():
        restored.put_author(state)
    assert third(restored) == ["rule", "escalation"]
    restored.forget_author("test:a")
    assert restored.author("test:a").empty
