"""The alert store on the recorded alerts (tests/recorded_alerts.py): each search, the
verdicts that decisions give, in any order and repeated, and rule quality, with known answers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from postwatch.alerts.store import AlertStore, Query, RuleStats, StoreError
from postwatch.rules import Severity
from postwatch.rules.decisions import Decision
from tests.recorded_alerts import (
    ALERTS,
    DECISIONS,
    H1,
    LEARNED,
    ORPHAN,
    START,
    VERDICTS,
    P,
    Q,
    by_n,
    make_alert,
)


@pytest.fixture
def store() -> AlertStore:
    store = AlertStore()
    store.add(ALERTS)
    store.decide(DECISIONS)
    return store


def found(store: AlertStore, **criteria: object) -> list[str]:
    return [s.alert.alert_id for s in store.search(Query(**criteria))]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("criteria", "numbers"),
    [
        ({}, [8, 7, 6, 5, 4, 3, 2, 1]),
        ({"author": "mastodon:alice"}, [8, 2, 1]),
        ({"rule": "pw-media"}, [4, 3, 2]),
        ({"hash": H1}, [3, 2]),
        ({"hash": H1.upper()}, [3, 2]),
        ({"hash": P}, [4]),
        ({"hash": Q}, [4]),
        ({"verdict": "confirm"}, [2, 1]),
        ({"verdict": "false_positive"}, [5, 3]),
        ({"verdict": "escalate"}, [4]),
        ({"verdict": "undecided"}, [8, 7, 6]),
        ({"since": START + timedelta(hours=25)}, [8, 7, 6, 5]),
        ({"min_severity": Severity.CRITICAL}, [4, 3, 2]),
        ({"min_severity": Severity.HIGH}, [8, 7, 6, 4, 3, 2, 1]),
        ({"source": "bluesky"}, [6, 4]),
        ({"kind": "reappearance"}, [7]),
        ({"domain": "example.org"}, [5]),
        ({"domain": "WWW.Example.org."}, [5]),
        ({"domain": "mastodon.example"}, [8, 7, 5, 3, 2, 1]),
        ({"domain": "example"}, []),
        ({"fingerprint": "mastodon:1"}, [7]),
        ({"fingerprint": LEARNED}, [7]),
        ({"author": "mastodon:bob", "verdict": "false_positive"}, [5, 3]),
        ({"rule": "pw-names", "since": START + timedelta(hours=25)}, [8, 6]),
        ({"limit": 2}, [8, 7]),
        ({"undecided_first": True}, [8, 7, 6, 5, 4, 3, 2, 1]),
        ({"undecided_first": True, "author": "mastodon:alice"}, [8, 2, 1]),
        ({"undecided_first": True, "source": "bluesky"}, [6, 4]),
        ({"author": "nobody"}, []),
    ],
)
def test_search(store: AlertStore, criteria: dict[str, object], numbers: list[int]) -> None:
    assert found(store, **criteria) == by_n(*numbers)


def test_the_review_queue_puts_the_undecided_first_then_the_newest() -> None:
    store = AlertStore()
    store.add(ALERTS)
    # the newest alert decided: it goes behind every undecided one
    store.decide([d for d in DECISIONS if d.alert_id in by_n(1)])
    store.decide([_decided(8, "confirm")])
    assert found(store, undecided_first=True) == by_n(7, 6, 5, 4, 3, 2, 8, 1)
    assert found(store) == by_n(8, 7, 6, 5, 4, 3, 2, 1)


def _decided(n: int, verdict: str) -> Decision:
    return Decision.of(ALERTS[n - 1], verdict, "uma", at=START + timedelta(days=9))  # type: ignore[arg-type]


def test_each_alert_carries_its_verdict_and_every_decision_in_order(store: AlertStore) -> None:
    for n, alert in enumerate(ALERTS, 1):
        stored = store.get(alert.alert_id)
        assert stored is not None
        assert stored.alert == alert
        assert stored.verdict == VERDICTS.get(n)
        assert stored.decisions == tuple(d for d in DECISIONS if d.alert_id == alert.alert_id)
    four = store.get(by_n(4)[0])
    assert four is not None
    assert [(d.verdict, d.user) for d in four.decisions] == [("escalate", "sam"), ("note", "rita")]
    assert store.get(ORPHAN) is None
    assert store.get("0" * 32) is None


def test_redelivered_alerts_and_decisions_are_kept_once(store: AlertStore) -> None:
    store.add(ALERTS[::-1])
    store.decide(DECISIONS)
    assert store.count == 8
    stored = store.get(by_n(5)[0])
    assert stored is not None
    assert stored.verdict == "false_positive"
    assert [d.verdict for d in stored.decisions] == ["confirm", "false_positive"]
    # and within one batch
    again = AlertStore()
    again.add(ALERTS + ALERTS)
    assert again.count == 8


def test_decisions_before_their_alerts_apply_when_the_alerts_come() -> None:
    store = AlertStore()
    store.decide(DECISIONS)
    assert store.count == 0
    store.add(ALERTS[:4])
    assert {s.alert.alert_id: s.verdict for s in store.search(Query())} == {
        by_n(n)[0]: VERDICTS[n] for n in (1, 2, 3, 4)
    }
    store.add(ALERTS[4:])
    stored = store.get(by_n(5)[0])
    assert stored is not None
    assert stored.verdict == "false_positive"  # the latest of the two, not the first
    orphan = make_alert(99, "pw-names", "mastodon:zed", list(ALERTS[0].evidence), hours=3)
    assert orphan.alert_id == ORPHAN
    store.add([orphan])
    assert found(store, author="mastodon:zed", verdict="confirm") == [ORPHAN]


def test_a_later_verdict_supersedes_and_a_note_changes_none(store: AlertStore) -> None:
    store.decide([_decided(3, "confirm")])
    assert found(store, verdict="false_positive") == by_n(5)
    assert found(store, verdict="confirm") == by_n(3, 2, 1)
    store.decide([_decided(3, "note")])
    assert found(store, verdict="confirm") == by_n(3, 2, 1)


def test_rule_quality() -> None:
    store = AlertStore()
    store.add(ALERTS)
    store.decide(DECISIONS)
    # eight alerts over 48 hours: two days
    entry_h1, entry_p = f"known-media/{H1}", f"known-media/{P}"
    assert store.rule_stats() == [
        RuleStats("pw-domain", None, 1, 0.5, 0, 1, 0),
        RuleStats("pw-media", None, 3, 1.5, 1, 1, 1),
        RuleStats("pw-media", entry_h1, 2, 1.0, 1, 1, 0),
        RuleStats("pw-media", entry_p, 1, 0.5, 0, 0, 1),
        RuleStats("pw-names", None, 3, 1.5, 1, 0, 0),
        RuleStats(f"reappearance/{LEARNED}", None, 1, 0.5, 0, 0, 0),
    ]
    names = store.rule_stats()[4]
    assert (names.decided, names.decided_share, names.precision) == (1, 1 / 3, 1.0)
    media = store.rule_stats()[1]
    assert (media.decided, media.decided_share, media.precision) == (2, 2 / 3, 0.5)
    assert store.rule_stats()[0].precision == 0.0
    assert store.rule_stats()[5].precision is None
    # from hour 25 to hour 49: one day
    assert store.rule_stats(START + timedelta(hours=25)) == [
        RuleStats("pw-domain", None, 1, 1.0, 0, 1, 0),
        RuleStats("pw-names", None, 2, 2.0, 0, 0, 0),
        RuleStats(f"reappearance/{LEARNED}", None, 1, 1.0, 0, 0, 0),
    ]
    assert store.rule_stats(START + timedelta(days=30)) == []
    assert AlertStore().rule_stats() == []


def test_summaries_count_in_no_rule_quality() -> None:
    store = AlertStore()
    first = ALERTS[0]
    summary = first.summary(
        suppressed_count=4,
        suppressed_post_ids=["mastodon:2"],
        window_start=START,
        window_end=START + timedelta(hours=1),
        detected_at=START + timedelta(hours=1),
    )
    store.add([first, summary])
    assert store.count == 2
    assert [(s.rule, s.alerts) for s in store.rule_stats()] == [("pw-names", 1)]
    assert found(store, kind="summary") == [summary.alert_id]


def test_a_bad_query_is_refused(store: AlertStore) -> None:
    with pytest.raises(StoreError, match="no verdict"):
        store.search(Query(verdict="note"))
    with pytest.raises(StoreError, match="not a verdict"):
        store.search(Query(verdict="maybe"))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="limit"):
        store.search(Query(limit=0))


def test_a_file_store_starts_empty_and_refuses_what_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    first = AlertStore(path)
    first.add(ALERTS)
    first.close()
    second = AlertStore(path)
    assert second.count == 0
    second.add(ALERTS[:2])
    assert found(second) == by_n(2, 1)
    second.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is no database, " * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        AlertStore(junk)


def test_a_store_file_is_one_store_s_alone_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    first = AlertStore(path)
    first.add(ALERTS)
    with pytest.raises(StoreError, match="in use by another process"):
        AlertStore(path)
    assert first.count == 8  # untouched
    assert found(first, author="mastodon:bob") == by_n(7, 5, 3)
    first.close()
    assert AlertStore(path).count == 0
