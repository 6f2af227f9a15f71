"""Rule quality as Prometheus gauges, from the alert store: how many alerts each rule
raised, the verdicts they were given, and its precision (confirmed ÷ confirmed or false
positive).

Labels are `rule` and `verdict` only. Detectors name each of their alerts' rules after what
they found (`reappearance/<learned key>`, `escalation/<author id>`): those are labelled by
the detector alone (`reappearance`), so that no author or post goes into a label and the
label sets stay bounded by the packs' rules.

Register it where the store is followed (the review console)::

    registry.register(RuleQualityCollector(store))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from time import monotonic

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from postwatch.alerts.store import AlertStore, RuleStats

__all__ = ["VERDICT_LABELS", "RuleQualityCollector", "rule_label"]

VERDICT_LABELS = ("confirm", "false_positive", "escalate")
"""The `verdict` label's values: the latest verdict of the alerts counted."""


def rule_label(rule_id: str) -> str:
    """A pack rule's id; a detector's kind for the rules of detectors (`kind/key`)."""
    return rule_id.split("/", 1)[0]


@dataclass
class _Totals:
    alerts: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICT_LABELS, 0))


class RuleQualityCollector(Collector):
    """`postwatch_rule_alerts{rule}`, `postwatch_rule_decisions{rule,verdict}` and
    `postwatch_rule_precision{rule}` over every alert the store holds. The figures are
    taken from the store at most once every `refresh_s` seconds: at a million alerts rule
    quality takes about a second (docs/performance.md), and every scrape would hold the
    store that long."""

    def __init__(
        self, store: AlertStore, refresh_s: float = 60.0, clock: Callable[[], float] = monotonic
    ) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self._clock = clock
        self._taken: tuple[float, dict[str, _Totals]] | None = None

    def _totals(self) -> dict[str, _Totals]:
        now = self._clock()
        if self._taken is None or now - self._taken[0] >= self.refresh_s:
            self._taken = (now, _by_label(self.store.rule_stats()))
        return self._taken[1]

    def collect(self) -> Iterator[Metric]:
        totals = self._totals()
        alerts = GaugeMetricFamily(
            "postwatch_rule_alerts", "Alerts of the rule in the alert store.", labels=["rule"]
        )
        decisions = GaugeMetricFamily(
            "postwatch_rule_decisions",
            "Alerts of the rule whose latest verdict is this one.",
            labels=["rule", "verdict"],
        )
        precision = GaugeMetricFamily(
            "postwatch_rule_precision",
            "Confirmed alerts of the rule over those confirmed or found false positives "
            "(rules with none decided have no sample).",
            labels=["rule"],
        )
        for rule, total in sorted(totals.items()):
            alerts.add_metric([rule], total.alerts)
            for verdict, count in total.verdicts.items():
                decisions.add_metric([rule, verdict], count)
            decided = total.verdicts["confirm"] + total.verdicts["false_positive"]
            if decided:
                precision.add_metric([rule], total.verdicts["confirm"] / decided)
        yield from (alerts, decisions, precision)

    def describe(self) -> Iterator[Metric]:
        """The metrics without their samples: registering reads no store."""
        yield GaugeMetricFamily("postwatch_rule_alerts", "", labels=["rule"])
        yield GaugeMetricFamily("postwatch_rule_decisions", "", labels=["rule", "verdict"])
        yield GaugeMetricFamily("postwatch_rule_precision", "", labels=["rule"])


def _by_label(stats: list[RuleStats]) -> dict[str, _Totals]:
    totals: defaultdict[str, _Totals] = defaultdict(_Totals)
    for row in stats:
        if row.entry is not None:
            continue
        total = totals[rule_label(row.rule)]
        total.alerts += row.alerts
        total.verdicts["confirm"] += row.confirmed
        total.verdicts["false_positive"] += row.false_positives
        total.verdicts["escalate"] += row.escalated
    return dict(totals)
