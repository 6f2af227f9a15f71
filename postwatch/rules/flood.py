"""The flood guard: a rule that raises more than its limit of alerts within a minute is
switched to shadow on every worker, until an admin restores it.

Its alerts keep flowing, marked `shadow: true`: nothing is dropped, but a rule gone wrong
(a term that turned common, a bank entry that matches everything) stops paging people. A
`FloodRecord` on the compacted flood topic, keyed by rule id, says which rules are shadowed:
the worker whose count trips writes `flooded`, `postwatch rules restore` writes `restored`,
and every worker applies both to its `FloodGuard`. A rule is named by its id here, as in
alert ids and metrics.

The `rule_flood` alert a trip raises has an id derived from the rule and from the restore
before the trip (its offset on the flood topic), so workers that trip at once raise one id,
and a rule that floods again after it was restored raises a new one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from postwatch.rules.alerts import Alert, isoformat

__all__ = ["FLOOD_WINDOW_S", "FloodGuard", "FloodRecord", "Trip"]

FLOOD_WINDOW_S = 60.0
"""The window alerts are counted over: the limit is alerts per minute."""

_Name = Annotated[str, msgspec.Meta(min_length=1)]


class FloodRecord(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="schema",
    tag="postwatch.flood/1",
):
    """One record of the flood topic, keyed by `rule`: the rule was shadowed (`flooded`,
    with what tripped the guard and the alert it raised) or given back (`restored`, by
    whom). `encode` and `decode` are its bytes there."""

    rule: _Name
    state: Literal["flooded", "restored"]
    at: str
    pack: str | None = None
    count: int | None = None
    limit: int | None = None
    window_s: float | None = None
    alert_id: str | None = None
    by: str | None = None

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> FloodRecord:
        """Raises msgspec.DecodeError for bytes that are no flood record."""
        return msgspec.json.decode(data, type=cls)


@dataclass(frozen=True, slots=True)
class Trip:
    """What a trip produces: the record for the flood topic and the `rule_flood` alert."""

    record: FloodRecord
    alert: Alert


@dataclass(slots=True)
class _Window:
    """Alerts of one rule over the last FLOOD_WINDOW_S, in one-second buckets."""

    limit: int
    buckets: deque[list[int]] = field(default_factory=deque)  # [second, alerts]
    total: int = 0


class FloodGuard:
    """The flood state of one worker: the rules shadowed (`shadowed`, by rule id) and the
    alerts of the others counted per rule.

    `limit` is alerts per minute (0: none); `overrides` maps a rule id or a pack id to its
    own limit (0: that rule, or that pack's rules, never trip), a rule's winning over its
    pack's.
    """

    def __init__(
        self,
        limit: int,
        overrides: Mapping[str, int] | None = None,
        window_s: float = FLOOD_WINDOW_S,
    ) -> None:
        self.limit = limit
        self.overrides = dict(overrides or {})
        self.window_s = window_s
        self.shadowed: set[str] = set()
        self._windows: dict[str, _Window] = {}
        self._restored: dict[str, int] = {}  # rule id -> offset of its latest restore

    def count(self, rule_id: str, pack: str, now: float) -> int | None:
        """One more alert of a rule not shadowed, at `now` (seconds, monotonic); the alerts
        within the window when this one is more than the limit (the guard trips), else
        None. Cheap: it runs for every alert."""
        window = self._windows.get(rule_id)
        if window is None:
            window = self._windows[rule_id] = _Window(self._limit(rule_id, pack))
        second = int(now)
        buckets = window.buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += 1
        else:
            buckets.append([second, 1])
            while buckets[0][0] <= second - self.window_s:
                window.total -= buckets.popleft()[1]
        window.total += 1
        if 0 < window.limit < window.total:
            return window.total
        return None

    def trip(self, alert: Alert, count: int, now: datetime) -> Trip:
        """Shadow the rule of `alert` (the alert that took it over its limit, `count`
        within the window) here; the record that shadows it on every worker and the
        `rule_flood` alert to send."""
        rule = alert.rule
        self.shadowed.add(rule.id)
        self._windows.pop(rule.id, None)
        limit = self._limit(rule.id, rule.pack)
        flood = Alert.flood(
            alert,
            count=count,
            limit=limit,
            window_s=self.window_s,
            episode=str(self._restored.get(rule.id, -1)),
            now=now,
        )
        record = FloodRecord(
            rule=rule.id,
            state="flooded",
            at=isoformat(now),
            pack=rule.pack,
            count=count,
            limit=limit,
            window_s=self.window_s,
            alert_id=flood.alert_id,
        )
        return Trip(record, flood)

    def _limit(self, rule_id: str, pack: str) -> int:
        return self.overrides.get(rule_id, self.overrides.get(pack, self.limit))

    def apply(self, record: FloodRecord, offset: int) -> None:
        """A record of the flood topic, at `offset`: shadow the rule, or restore it (its
        count starts again from nothing)."""
        if record.state == "flooded":
            self.shadowed.add(record.rule)
        else:
            self.shadowed.discard(record.rule)
            self._restored[record.rule] = offset
        self._windows.pop(record.rule, None)
