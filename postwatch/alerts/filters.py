"""Which alerts a consumer wants: a minimum severity, rule ids, sources; and `--since`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from postwatch.alerts import AlertsError
from postwatch.rules import Severity

__all__ = ["AlertFilter", "BadSince", "evidence", "parse_since", "section", "severity_of"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class BadSince(AlertsError):
    """A `--since` value that is neither a duration nor a timestamp."""


def section(alert: dict[str, Any], name: str) -> dict[str, Any]:
    """`alert[name]` (`rule`, `post`, a post's `author`) when it is an object, else an empty
    one: a record on the alerts topic is read as it comes, and one in another shape is shown
    or forwarded as far as it goes rather than stopping its reader."""
    value = alert.get(name)
    return value if isinstance(value, dict) else {}


def evidence(alert: dict[str, Any]) -> list[dict[str, Any]]:
    """The pieces of evidence of an alert that are objects (none when `evidence` is not a
    list)."""
    pieces = alert.get("evidence")
    return [e for e in pieces if isinstance(e, dict)] if isinstance(pieces, list) else []


def severity_of(alert: dict[str, Any]) -> Severity:
    """The severity of an alert's rule (INFO when it names none this version knows)."""
    label = str(section(alert, "rule").get("severity", "info")).upper()
    return Severity[label] if label in Severity.__members__ else Severity.INFO


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """An alert passes when its severity is at least `min_severity` and, where `rules` or
    `sources` are given, its rule id and its post's source are among them."""

    min_severity: Severity = Severity.INFO
    rules: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    def __call__(self, alert: dict[str, Any]) -> bool:
        if severity_of(alert) < self.min_severity:
            return False
        if self.rules and not _among(section(alert, "rule").get("id"), self.rules):
            return False
        return not self.sources or _among(section(alert, "post").get("source"), self.sources)


def _among(value: object, names: frozenset[str]) -> bool:
    return isinstance(value, str) and value in names


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A moment from `30s`, `15m`, `2h`, `1d` (that long ago) or an ISO 8601 timestamp
    (UTC when it names no offset)."""
    found = _DURATION.fullmatch(text.strip())
    if found:
        ago = timedelta(**{_UNITS[found[2]]: float(found[1])})
        return (now or datetime.now(UTC)) - ago
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadSince(
            f"--since {text!r}: give a duration (30s, 15m, 2h, 1d) or an ISO 8601 timestamp"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
