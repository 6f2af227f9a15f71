"""The matching stage with the flood guard: a rule over its limit goes on raising alerts,
marked shadow, and raises one `rule_flood` alert; the others are unaffected."""

from __future__ import annotations

import asyncio

import orjson

from postwatch.rules import Engine
from postwatch.rules.flood import FloodGuard, FloodRecord
from postwatch.streams.agents.match import MatchStage
from postwatch.streams.metrics import Metrics
from tests.unit.streams.agents.helpers import Record, Sink
from tests.unit.streams.agents.test_match_stage import post


def test_a_rule_over_its_limit_is_shadowed_and_none_of_its_alerts_is_lost(
    engine: Engine,
) -> None:
    alerts, floods, metrics = Sink(), Sink(), Metrics()
    guard = FloodGuard(3, {"ops-domain": 0})  # the other rule the post matches never trips
    built = MatchStage(engine, alerts, Sink(), metrics=metrics, flood=guard, send_flood=floods)
    records = [Record(None, post(n), "posts", 0, n) for n in range(10)]
    assert asyncio.run(built.process(records[:5])) == 5 + 5 + 1
    assert asyncio.run(built.process(records[5:])) == 5 + 5

    names = [a for a in alerts.values if a["rule"]["id"] == "ops-names" and a["kind"] == "rule"]
    assert len(names) == 10
    assert [a["shadow"] for a in names] == [False] * 4 + [True] * 6
    domain = [a for a in alerts.values if a["rule"]["id"] == "ops-domain"]
    assert [a["shadow"] for a in domain] == [False] * 10
    [flood] = [a for a in alerts.values if a["kind"] == "rule_flood"]
    assert (flood["flood_count"], flood["flood_limit"]) == (4, 3)
    assert flood["post"]["id"] == "mastodon:secret-post-3"  # the fourth, which tripped it
    [(key, record)] = floods.records
    assert key == b"ops-names"
    assert FloodRecord.decode(orjson.dumps(record)).alert_id == flood["alert_id"]
    value = metrics.registry.get_sample_value
    assert value("postwatch_flood_trips_total", {"rule": "ops-names"}) == 1
    assert value("postwatch_flood_shadowed_alerts_total", {"rule": "ops-names"}) == 6
    assert value("postwatch_flood_shadowed_alerts_total", {"rule": "ops-domain"}) is None


def test_a_rule_restored_raises_live_alerts_again(engine: Engine) -> None:
    alerts = Sink()
    guard = FloodGuard(100)
    guard.apply(FloodRecord(rule="ops-names", state="flooded", at="t"), 0)
    built = MatchStage(engine, alerts, Sink(), flood=guard)
    asyncio.run(built.process([Record(None, post(1), "posts", 0, 1)]))
    guard.apply(FloodRecord(rule="ops-names", state="restored", at="t"), 1)
    asyncio.run(built.process([Record(None, post(2), "posts", 0, 2)]))
    shadow = [a["shadow"] for a in alerts.values if a["rule"]["id"] == "ops-names"]
    assert shadow == [True, False]
