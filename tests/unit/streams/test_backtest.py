"""The backtest's comparison: live alerts against what the candidate matches, by (rule,
post), without a broker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from postwatch.streams.backtest import Comparison, RuleDiff

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def alert(
    rule: str, post: str, kind: str = "rule", pack: str = "p", **extra: Any
) -> dict[str, Any]:
    return {"kind": kind, "rule": {"id": rule, "pack": pack}, "post": {"id": post}, **extra}


def test_added_removed_and_unchanged_by_rule_and_post_with_samples() -> None:
    comparison = Comparison(["p/a", "p/b"], ["p"], samples=1)
    comparison.raised(alert("a", "1"))
    comparison.raised(alert("a", "1"))  # the same alert again (a redelivery)
    comparison.raised(alert("a", "2"))
    comparison.raised(alert("gone", "3"))  # a rule the candidate no longer has
    comparison.raised(alert("a", "9", pack="other"))  # not a candidate pack's
    comparison.raised(alert("a", "9", kind="rule_flood"))  # not a rule's alert
    comparison.raised(alert("a", "first", kind="summary", suppressed_post_ids=["4", "5"]))
    comparison.compare("1", {"p/a"})
    comparison.compare("2", {"p/b"})
    comparison.compare("3", set())
    comparison.compare("4", {"p/a"})
    comparison.compare("5", set())
    comparison.compare("6", {"p/b"})
    comparison.compare("6", {"p/b"})  # the same post again: compared once
    comparison.compare("9", set())
    comparison.pend({"p/a", "p/b"})
    report = comparison.report(SINCE, read=10, skipped=1)
    assert report.rules == (
        RuleDiff("p/a", added=0, removed=2, unchanged=2, removed_samples=["2"]),
        RuleDiff("p/b", added=2, removed=0, unchanged=0, added_samples=["2"]),
        RuleDiff("p/gone", added=0, removed=1, unchanged=0, removed_samples=["3"]),
    )
    assert (report.added, report.removed, report.unchanged) == (2, 3, 2)
    assert (report.candidate_alerts, report.live_alerts) == (4, 5)
    assert (report.posts_compared, report.posts_pending, report.pending_alerts) == (8, 1, 2)
    assert report.not_compared == 0
    assert report.to_json()["since"] == "2026-01-01T00:00:00.000Z"


def test_live_alerts_on_posts_outside_the_stretch_are_counted_apart() -> None:
    comparison = Comparison(["p/a"], ["p"], samples=5)
    comparison.raised(alert("a", "before"))
    comparison.compare("1", {"p/a"})
    report = comparison.report(SINCE, read=1, skipped=0)
    assert (report.added, report.removed, report.not_compared) == (1, 0, 1)
