"""Rule quality as Prometheus gauges, on the recorded alerts: rule and verdict labels only,
a detector's rules under its kind, and figures refreshed no more often than asked."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from postwatch.alerts.quality import RuleQualityCollector, rule_label
from postwatch.alerts.store import AlertStore
from tests.recorded_alerts import ALERTS, DECISIONS, LEARNED


def registry_of(store: AlertStore, now: list[float]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(RuleQualityCollector(store, refresh_s=60, clock=lambda: now[0]))
    return registry


def test_gauges_of_the_recorded_alerts() -> None:
    store = AlertStore()
    store.add(ALERTS)
    store.decide(DECISIONS)
    registry = registry_of(store, [0.0])
    value = registry.get_sample_value
    assert {
        rule: value("postwatch_rule_alerts", {"rule": rule})
        for rule in ("pw-domain", "pw-media", "pw-names", "reappearance")
    } == {"pw-domain": 1, "pw-media": 3, "pw-names": 3, "reappearance": 1}
    assert {
        verdict: value("postwatch_rule_decisions", {"rule": "pw-media", "verdict": verdict})
        for verdict in ("confirm", "false_positive", "escalate")
    } == {"confirm": 1, "false_positive": 1, "escalate": 1}
    assert value("postwatch_rule_precision", {"rule": "pw-media"}) == 0.5
    assert value("postwatch_rule_precision", {"rule": "pw-names"}) == 1.0
    assert value("postwatch_rule_precision", {"rule": "pw-domain"}) == 0.0
    assert value("postwatch_rule_precision", {"rule": "reappearance"}) is None  # none decided
    exposition = generate_latest(registry).decode()
    assert LEARNED not in exposition  # no learned key, author or post in a label
    assert "mastodon:" not in exposition
    names = {frozenset(s.labels) for m in registry.collect() for s in m.samples}
    assert names == {frozenset({"rule"}), frozenset({"rule", "verdict"})}


def test_figures_are_taken_again_only_after_refresh_s() -> None:
    store = AlertStore()
    store.add(ALERTS[:2])
    now = [100.0]
    registry = registry_of(store, now)
    assert registry.get_sample_value("postwatch_rule_alerts", {"rule": "pw-media"}) == 1
    store.add(ALERTS[2:4])
    now[0] = 159.0
    assert registry.get_sample_value("postwatch_rule_alerts", {"rule": "pw-media"}) == 1
    now[0] = 160.0
    assert registry.get_sample_value("postwatch_rule_alerts", {"rule": "pw-media"}) == 3


def test_rule_labels() -> None:
    assert rule_label("pw-0001") == "pw-0001"
    assert rule_label(f"reappearance/{LEARNED}") == "reappearance"
    assert rule_label("escalation/mastodon:alice") == "escalation"
