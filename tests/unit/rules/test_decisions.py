"""Decisions: what a reviewer's false positive does (a hash match's media leaves that bank,
a look-alike author is cleared, a learned fingerprint is retired), that a later verdict
takes it back, escalation's raised severity, and the record's contract."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from postwatch.rules import Engine, parse_pack
from postwatch.rules.alerts import Alert, AlertAuthor, AlertPost, decode
from postwatch.rules.decisions import Decision, Exclusion, Reviews, escalated, retired_keys
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.rules.language.model import Evidence
from tests.unit.rules.detectors.scenario import (
    IMAGES,
    PACK,
    STATEMENT,
    T0,
    image_pdq,
    observe,
    post,
)

BANK_PACK = """
pack: media
version: 1
banks:
  known:
    pdq: ["{bank}"]
rules:
  - id: known-media
    title: Known media
    severity: high
    match: {{hashes: {{bank: known}}}}
"""


def _flip(pdq: str, bits: int) -> str:
    """The hash with its first `bits` bits flipped."""
    value = int(pdq, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


def _decision(alert: dict[str, Any], verdict: str, user: str = "rev") -> Decision:
    return Decision.of(decode(json.dumps(alert).encode()), verdict, user)  # type: ignore[arg-type]


def test_a_false_positive_takes_the_matched_media_out_of_that_bank_and_a_confirm_puts_it_back() -> (
    None
):
    bank_hash = image_pdq(IMAGES / "b.jpg")
    engine = Engine([parse_pack(BANK_PACK.format(bank=bank_hash), "media.yaml")])
    tracker = Tracker(MirrorConfig())
    wrong = _flip(bank_hash, 20)  # matched within 31, but a reviewer says it is another image
    (alert,) = observe(tracker, engine, post("1", "a", "look", pdq=wrong))
    reviews = Reviews()
    change = reviews.apply(_decision(alert, "false_positive"))
    assert change.excluded == (Exclusion("media", "known", "pdq", wrong),)
    bank = engine.packs[0].banks["known"]
    for exclusion in change.excluded:
        bank.exclude(exclusion.algo, exclusion.value)
    assert observe(tracker, engine, post("2", "b", "look", pdq=wrong)) == []
    near_wrong = _flip(wrong, 5)  # a re-encoded copy of the wrong image, still near the bank's
    assert observe(tracker, engine, post("3", "c", "look", pdq=near_wrong)) == []
    # the bank's own image still matches, and so does a copy far from the excluded one
    assert len(observe(tracker, engine, post("4", "d", "look", pdq=bank_hash))) == 1
    assert reviews.apply(_decision(alert, "note")).excluded == ()  # a note changes nothing
    back = reviews.apply(_decision(alert, "confirm"))
    assert back.included == change.excluded
    assert list(reviews.exclusions) == []
    for exclusion in back.included:
        bank.include(exclusion.algo, exclusion.value)
    assert len(observe(tracker, engine, post("5", "e", "look", pdq=wrong))) == 1


def test_an_exclusion_held_by_two_alerts_holds_until_both_are_taken_back() -> None:
    bank_hash = image_pdq(IMAGES / "b.jpg")
    engine = Engine([parse_pack(BANK_PACK.format(bank=bank_hash), "media.yaml")])
    tracker = Tracker(MirrorConfig())
    wrong = _flip(bank_hash, 20)
    first, second = (observe(tracker, engine, post(n, n, "look", pdq=wrong))[0] for n in ("1", "2"))
    reviews = Reviews()
    assert reviews.apply(_decision(first, "false_positive")).excluded
    assert not reviews.apply(_decision(second, "false_positive"))  # held already
    assert not reviews.apply(_decision(first, "escalate")).included  # the second holds it
    assert reviews.apply(_decision(second, "confirm")).included
    assert reviews.verdicts == {first["alert_id"]: "escalate", second["alert_id"]: "confirm"}


def test_a_false_positive_lookalike_clears_that_author_for_that_account_only() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    accounts = [account for pack in engine.packs for account in pack.accounts]
    tracker = Tracker(MirrorConfig(), accounts)
    (alert,) = observe(tracker, engine, post("1", "a", "hi", handle="example_front_official"))
    assert alert["kind"] == "lookalike_account"
    change = Reviews().apply(_decision(alert, "false_positive"))
    assert change.cleared == (("test:a", "test:front"),)
    fresh = Tracker(MirrorConfig(), accounts)  # a worker that never alerted on the pair
    fresh.clear_lookalike(*change.cleared[0])
    assert observe(fresh, engine, post("2", "a", "hi", handle="example_front_official")) == []
    other = observe(fresh, engine, post("3", "b", "hi", handle="example_front_official"))
    assert [a["kind"] for a in other] == ["lookalike_account"]
    fresh.restore_lookalike(*change.cleared[0])
    restored = observe(fresh, engine, post("4", "a", "hi", handle="example_front_official"))
    assert [a["kind"] for a in restored] == ["lookalike_account"]


def test_a_false_positive_reappearance_retires_the_learned_fingerprint_even_learned_again() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig())
    observe(tracker, engine, post("1", "front", STATEMENT))
    (entry,) = tracker.learned()
    (alert,) = observe(tracker, engine, post("2", "x", STATEMENT))
    assert alert["kind"] == "reappearance"
    change = Reviews().apply(_decision(alert, "false_positive"))
    assert change.retired == (entry.key,)
    tracker.retire(entry.key)
    assert tracker.learned() == []
    assert tracker.learn(entry) is False  # the learned topic read again from its start
    assert observe(tracker, engine, post("3", "y", STATEMENT)) == []
    tracker.unretire(entry.key)
    assert [a["kind"] for a in observe(tracker, engine, post("4", "z", STATEMENT))] == [
        "reappearance"
    ]


def test_the_learned_key_of_a_pdq_reappearance_is_that_of_the_entry() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig())
    photo = image_pdq(IMAGES / "b.jpg")
    observe(tracker, engine, post("1", "front", "", pdq=photo))
    [entry] = [e for e in tracker.learned() if e.kind == "pdq"]
    (alert,) = observe(tracker, engine, post("2", "x", "", pdq=_flip(photo, 6)))
    assert retired_keys(decode(json.dumps(alert).encode())) == [entry.key]


def test_escalation_raises_the_severity_one_step_under_an_id_of_its_own() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    (alert,) = observe(Tracker(MirrorConfig()), engine, post("1", "front", "hello"))
    original = decode(json.dumps(alert).encode())
    raised = escalated(original)
    assert (original.rule.severity, raised.rule.severity) == ("high", "critical")
    assert raised.alert_id != original.alert_id
    assert raised.alert_id == escalated(original).alert_id  # deterministic
    assert escalated(raised).rule.severity == "critical"
    assert raised.post == original.post


def test_a_decision_record_round_trips_and_bad_ones_are_refused() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    (alert,) = observe(Tracker(MirrorConfig()), engine, post("1", "front", "hello"))
    decision = _decision(alert, "false_positive")
    assert Decision.decode(decision.encode()) == decision
    doc = json.loads(decision.encode())
    assert doc["schema"] == "postwatch.decision/1"
    assert doc["user"] == "rev"
    with pytest.raises(msgspec.ValidationError, match="not the alert decided"):
        Decision.decode(json.dumps({**doc, "alert_id": "0" * 32}).encode())
    with pytest.raises(msgspec.ValidationError):
        Decision.decode(json.dumps({**doc, "verdict": "delete"}).encode())
    with pytest.raises(ValueError, match="not a verdict"):
        _decision(alert, "delete")
    with pytest.raises(ValueError, match="names its user"):
        _decision(alert, "confirm", user=" ")
    with pytest.raises(ValueError, match="at most"):
        Decision.of(decision.alert, "note", "rev", "x" * 2001)


def successor_alert(author: str, account: str) -> Alert:
    """A `successor` alert naming `author` the successor of `account`, as correlation
    raises it."""
    view = AlertPost(
        id=f"test:{author}-1",
        source="test",
        created_at="2025-07-25T10:00:00.000Z",
        author=AlertAuthor(id=author),
        excerpt="hello",
    )
    return Alert.correlated(
        "successor",
        view,
        f"{account}>{author}",
        T0,
        rule_id="correlation/successor",
        title=f"{author} looks like a successor of {account}",
        evidence=[
            Evidence("alert", "author.id", "a" * 32, matched=author, original_author_id=account)
        ],
    )


def test_a_confirmed_successor_is_watched_as_the_listed_account_until_taken_back() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig())
    assert observe(tracker, engine, post("1", "heir", "hello there")) == []
    reviews = Reviews()
    alert = successor_alert("test:heir", "test:front")
    assert reviews.apply(Decision.of(alert, "false_positive", "rev")).watched == ()
    change = reviews.apply(Decision.of(alert, "confirm", "rev"))
    assert change.watched == (("test:heir", "test:front"),)
    engine.watch_as(*change.watched[0])
    call = "Meet at the north gate on Friday evening with the others, and keep the plan quiet."
    (caught,) = observe(tracker, engine, post("2", "heir", call))
    assert (caught["rule"]["id"], caught["evidence"][0]["value"]) == ("listed-account", "test:heir")
    assert [e.author_id for e in tracker.learned()] == ["test:heir"]  # its posts are learned
    back = reviews.apply(Decision.of(alert, "escalate", "rev"))
    assert back.unwatched == change.watched
    engine.unwatch_as(*back.unwatched[0])
    assert observe(tracker, engine, post("3", "heir", "a new text entirely here")) == []
