"""The flood guard's state: alerts counted per rule over a sliding minute, the trip, its
record and its `rule_flood` alert, and the records of the flood topic applied."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import orjson
import pytest

from postwatch.alerts.ocsf import detection_finding
from postwatch.rules import Alert, Engine
from postwatch.rules.alerts import encode
from postwatch.rules.flood import FloodGuard, FloodRecord
from postwatch.schemas import schema_text
from tests.unit.conftest import make_post, only_match

SCHEMA = orjson.loads(schema_text("alert"))
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def names_alert(engine: Engine, post_id: str = "test:1") -> Alert:
    return Alert.of_match(only_match(engine, make_post(id=post_id)), NOW)


def test_the_alert_after_the_limit_within_a_minute_trips_and_no_other() -> None:
    guard = FloodGuard(3)
    assert [guard.count("r", "p", 100.0) for _ in range(3)] == [None, None, None]
    assert guard.count("r", "p", 100.5) == 4
    assert guard.count("other", "p", 100.5) is None  # each rule counts its own


def test_alerts_older_than_a_minute_leave_the_count() -> None:
    guard = FloodGuard(3)
    for at in (0.0, 10.0, 20.0):
        assert guard.count("r", "p", at) is None
    assert guard.count("r", "p", 60.5) is None  # the alert at 0 s has left: 3 in the window
    assert guard.count("r", "p", 61.0) == 4  # 10, 20, 60.5, 61


@pytest.mark.parametrize(
    ("overrides", "trips_at"),
    [
        ({}, 3),
        ({"p": 5}, 6),  # the pack's limit
        ({"p": 5, "r": 1}, 2),  # the rule's wins over its pack's
        ({"r": 0}, None),  # never
    ],
)
def test_rules_and_packs_have_limits_of_their_own(
    overrides: dict[str, int], trips_at: int | None
) -> None:
    guard = FloodGuard(2, overrides)
    counts = [guard.count("r", "p", 5.0) for _ in range(10)]
    tripped = [n for n in counts if n is not None]
    assert (tripped[0] if tripped else None) == trips_at


def test_a_trip_shadows_the_rule_and_raises_one_alert_id_whichever_worker_trips(
    engine: Engine,
) -> None:
    first, second = FloodGuard(3), FloodGuard(3)
    one = first.trip(names_alert(engine, "test:1"), 4, NOW)
    other = second.trip(names_alert(engine, "test:2"), 7, NOW)
    assert first.shadowed == {"ops-names"}
    assert one.alert.alert_id == other.alert.alert_id  # from the rule, not the post
    assert one.record.alert_id == one.alert.alert_id
    assert one.record == FloodRecord(
        rule="ops-names",
        state="flooded",
        at="2026-01-02T03:04:05.000Z",
        pack="ops",
        count=4,
        limit=3,
        window_s=60.0,
        alert_id=one.alert.alert_id,
    )
    assert FloodRecord.decode(one.record.encode()) == one.record


def test_the_rule_flood_alert_is_alert_v1_with_its_count_and_window(engine: Engine) -> None:
    alert = FloodGuard(3).trip(names_alert(engine), 4, NOW).alert
    doc = orjson.loads(encode(alert))
    jsonschema.validate(doc, SCHEMA)
    assert doc["kind"] == "rule_flood"
    assert doc["shadow"] is False
    assert doc["rule"]["id"] == "ops-names"
    assert doc["post"]["id"] == "test:1"
    assert (doc["flood_count"], doc["flood_limit"]) == (4, 3)
    assert doc["window"] == {"start": "2026-01-02T03:03:05.000Z", "end": "2026-01-02T03:04:05.000Z"}
    assert doc["evidence"] == [
        {"type": "rule_flood", "field": "alerts", "value": "more than 3 alerts in 60 s"}
    ]
    without = {k: v for k, v in doc.items() if k != "flood_count"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(without, SCHEMA)
    finding = detection_finding(alert)
    assert finding["finding_info"]["types"] == ["rule_flood"]
    assert finding["count"] == 4
    assert finding["end_time"] - finding["start_time"] == 60_000
    assert finding["unmapped"]["postwatch"]["flood_limit"] == 3


def test_records_of_the_topic_shadow_and_restore_and_a_restore_starts_a_new_episode(
    engine: Engine,
) -> None:
    guard = FloodGuard(3)
    flooded = FloodRecord(rule="ops-names", state="flooded", at="t", pack="ops")
    guard.apply(flooded, 0)
    assert guard.shadowed == {"ops-names"}
    first_id = FloodGuard(3).trip(names_alert(engine), 4, NOW).alert.alert_id
    guard.apply(FloodRecord(rule="ops-names", state="restored", at="t", by="admin"), 1)
    assert guard.shadowed == set()
    for _ in range(3):  # the count starts again
        assert guard.count("ops-names", "ops", 1.0) is None
    assert guard.count("ops-names", "ops", 1.0) == 4
    again = guard.trip(names_alert(engine), 4, NOW).alert.alert_id
    assert again != first_id  # flooding again after a restore is a new alert
