"""Filters of the feeds and `--since`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postwatch.alerts.filters import AlertFilter, BadSince, parse_since
from postwatch.rules import Severity


def alert(severity: str, rule: str = "r1", source: str = "mastodon") -> dict[str, object]:
    return {"rule": {"id": rule, "severity": severity}, "post": {"source": source}}


def test_filter_by_minimum_severity_rules_and_sources() -> None:
    high = AlertFilter(min_severity=Severity.HIGH)
    assert [high(alert(s)) for s in ("info", "low", "medium", "high", "critical")] == [
        False,
        False,
        False,
        True,
        True,
    ]
    by_rule = AlertFilter(rules=frozenset({"r2"}))
    assert not by_rule(alert("high"))
    assert by_rule(alert("high", rule="r2"))
    by_source = AlertFilter(sources=frozenset({"bluesky", "rss"}))
    assert not by_source(alert("low"))
    assert by_source(alert("low", source="rss"))
    assert AlertFilter()(alert("info"))


def test_since_takes_durations_and_timestamps() -> None:
    now = datetime(2025, 7, 25, 12, tzinfo=UTC)
    assert parse_since("90s", now) == now - timedelta(seconds=90)
    assert parse_since("15m", now) == now - timedelta(minutes=15)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("1d", now) == now - timedelta(days=1)
    assert parse_since("2025-07-25T10:00:00Z") == datetime(2025, 7, 25, 10, tzinfo=UTC)
    assert parse_since("2025-07-25T10:00:00") == datetime(2025, 7, 25, 10, tzinfo=UTC)
    with pytest.raises(BadSince, match="duration"):
        parse_since("last tuesday")
