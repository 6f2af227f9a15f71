"""Records on the alerts topic in shapes Alert v1 does not have: every reader takes them as
far as they go and carries on."""

from __future__ import annotations

from typing import Any

import pytest

from postwatch.alerts.filters import AlertFilter, severity_of
from postwatch.rules import Severity

SHAPES: list[dict[str, Any]] = [
    {},
    {"rule": "r1", "post": "mastodon"},
    {"rule": ["r1"], "post": 7},
    {"rule": {"id": ["r1"], "severity": None}, "post": {"source": {"x": 1}}},
]


@pytest.mark.parametrize("alert", SHAPES)
def test_filters_pass_over_an_alert_they_cannot_read(alert: dict[str, Any]) -> None:
    assert severity_of(alert) is Severity.INFO
    assert AlertFilter()(alert)
    assert not AlertFilter(rules=frozenset({"r1"}))(alert)
    assert not AlertFilter(sources=frozenset({"mastodon"}))(alert)
    assert not AlertFilter(min_severity=Severity.LOW)(alert)
