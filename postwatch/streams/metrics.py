"""Every Prometheus metric of the worker, in one place.

Label values come from bounded sets only: rule ids and severities (from the loaded rule
packs), alert kinds, and dead-letter reason codes. Post, author and free-text values never
become labels, so the number of series stays fixed whatever the posts say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["LATENCY_BUCKETS", "Metrics"]

log = structlog.get_logger(__name__)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Seconds from a post's `observed_at` to its alert; the target is a few seconds."""


@dataclass
class Metrics:
    """The worker's metrics, registered in their own registry (one per worker app)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    posts: Counter = field(init=False)
    alerts: Counter = field(init=False)
    deadletters: Counter = field(init=False)
    latency: Histogram = field(init=False)
    suppressed: Counter = field(init=False)
    windows_open: Gauge = field(init=False)
    flood_trips: Counter = field(init=False)
    flood_shadowed: Counter = field(init=False)
    _alert_children: dict[tuple[str, str, str], Counter] = field(init=False, default_factory=dict)
    _shadowed_children: dict[str, Counter] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        counter = partial(Counter, registry=self.registry)
        gauge = partial(Gauge, registry=self.registry)
        histogram = partial(Histogram, registry=self.registry)
        self.posts = counter("postwatch_posts_processed", "Posts evaluated by the rules engine.")
        self.alerts = counter(
            "postwatch_alerts",
            "Alerts produced, by rule, severity and kind (rule or summary).",
            ["rule", "severity", "kind"],
        )
        self.deadletters = counter(
            "postwatch_deadletter_records",
            "Records sent to the dead-letter topic, by reason code.",
            ["reason"],
        )
        self.latency = histogram(
            "postwatch_alert_latency_seconds",
            "Seconds from a post's observed_at to its alert being acknowledged by the broker.",
            buckets=LATENCY_BUCKETS,
        )
        self.suppressed = counter(
            "postwatch_alerts_suppressed",
            "Repeat alerts collapsed into a suppression window (counted in its summary), by rule.",
            ["rule"],
        )
        self.windows_open = gauge(
            "postwatch_suppression_windows_open", "Suppression windows this worker holds open."
        )
        self.packs = counter(
            "postwatch_published_packs",
            "Published packs this worker applied or refused (outcome: applied | refused).",
            ["outcome"],
        )
        self.live_refused = counter(
            "postwatch_live_records_refused",
            "Records of the banks, learned and decisions topics this worker refused, by topic.",
            ["topic"],
        )
        self.decisions = counter(
            "postwatch_decisions_applied",
            "Decisions on alerts this worker took in from the decisions topic, by verdict.",
            ["verdict"],
        )
        self.flood_trips = counter(
            "postwatch_flood_trips",
            "Times a rule raised more alerts in a minute than the flood guard allows and was "
            "shadowed on every worker, by rule (counted by the worker that tripped).",
            ["rule"],
        )
        self.flood_shadowed = counter(
            "postwatch_flood_shadowed_alerts",
            "Alerts sent with shadow: true because the flood guard shadowed their rule, by rule.",
            ["rule"],
        )
        self.learned = gauge(
            "postwatch_learned_fingerprints",
            "Learned text fingerprints and PDQ hashes this worker matches against.",
        )

    def count_alert(self, rule_id: str, severity: str, kind: str) -> None:
        """One more alert of the rule: `alerts` by its labels, its child looked up once
        (`labels()` takes a lock and builds the key each time: thousands of times a second
        in an alert storm)."""
        key = (rule_id, severity, kind)
        child = self._alert_children.get(key)
        if child is None:
            child = self._alert_children[key] = self.alerts.labels(*key)
        child.inc()

    def count_flood_shadowed(self, rule_id: str) -> None:
        """One more alert of a rule the flood guard shadowed (its child looked up once, as
        in `count_alert`: a flooded rule is one that raises thousands)."""
        child = self._shadowed_children.get(rule_id)
        if child is None:
            child = self._shadowed_children[rule_id] = self.flood_shadowed.labels(rule_id)
        child.inc()

    def serve(self, host: str, port: int) -> bool:
        """Serve `/metrics` over HTTP in a background thread; False (and an error logged) if
        the port cannot be had: metrics are not worth stopping the matching for."""
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError:
            log.exception("metrics.unavailable", host=host, port=port)
            return False
        log.info("metrics.serving", host=host, port=port)
        return True
