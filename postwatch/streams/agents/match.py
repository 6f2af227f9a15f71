"""The matching stage: Post v1 bytes in, Alert v1 records out, bad records to dead letter.

Each alert is produced and acknowledged by the broker before the agent takes the next
record, and faust commits a record's offset only after the agent has moved past it: a crash
can repeat alerts (with the same deterministic id) but never lose one. With repeat
suppression on, repeats are counted into the first alert's window instead (see
`suppress.py`); with OCSF on, each alert also goes to the OCSF topic, acknowledged as well.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Container
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import structlog

from postwatch.alerts.ocsf import detection_finding
from postwatch.rules import Engine, InvalidPost, Match, Post, build_alert, parse_post
from postwatch.rules.mirror import Tracker
from postwatch.streams.agents.suppress import Suppressor, WindowStore
from postwatch.streams.metrics import Metrics

__all__ = ["DeadLetter", "MatchStage", "Send"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be processed, with why, and its original bytes."""

    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    value: bytes | None

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "reason": self.reason,
                "error": self.error,
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "value_b64": base64.b64encode(self.value).decode("ascii") if self.value else None,
            }
        )


class Send(Protocol):
    """Produce one record; the awaitable it returns completes when the broker acknowledges."""

    async def __call__(self, key: bytes | None, value: bytes) -> Awaitable[Any]: ...


@dataclass
class MatchStage:
    """Evaluate one record, produce its alerts or its dead letter.

    `windows` turns repeat suppression on, with windows of `window_s` seconds; `send_ocsf`
    turns on the OCSF rendering of every alert. `tracker` turns on mirror detection: its
    alerts are emitted with the engine's (never suppressed), and what a post teaches goes to
    `send_learned` (keyed by entry) for every worker. `process`, `sweep` and
    `replace_engine` never overlap.
    """

    engine: Engine
    send_alert: Send
    send_deadletter: Send
    metrics: Metrics = field(default_factory=Metrics)
    send_ocsf: Send | None = None
    windows: WindowStore | None = None
    window_s: float = 0.0
    tracker: Tracker | None = None
    send_learned: Send | None = None
    _suppressor: Suppressor | None = field(init=False, default=None)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        if self.windows is not None and self.window_s > 0:
            self._suppressor = Suppressor(self.windows, self.window_s, self.emit)

    async def process(
        self, key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int
    ) -> int:
        """Handle one record; returns the number of alerts produced."""
        async with self._lock:
            try:
                post = parse_post(value if value is not None else b"")
            except InvalidPost as exc:
                letter = DeadLetter(exc.reason, exc.error, topic, partition, offset, value)
                log.warning(
                    "record.deadletter",
                    reason=exc.reason,
                    topic=topic,
                    partition=partition,
                    offset=offset,
                )
                await (await self.send_deadletter(key, letter.to_json()))
                self.metrics.deadletters.labels(exc.reason).inc()
                return 0
            sent = 0
            with structlog.contextvars.bound_contextvars(post_id=post.id):
                matched = [(match, build_alert(match)) for match in self.engine.evaluate(post)]
                for match, alert in matched:
                    with structlog.contextvars.bound_contextvars(rule_id=match.rule.id):
                        if self._suppressor is None:
                            await self.emit(alert)
                            sent += 1
                        elif await self._suppressor.admit(match, alert, partition):
                            sent += 1
                        else:
                            self.metrics.suppressed.labels(match.rule.id).inc()
                if self.tracker is not None:
                    sent += await self._track(self.tracker, post, matched)
            self.metrics.posts.inc()
            self._count_windows()
            return sent

    async def _track(
        self, tracker: Tracker, post: Post, matched: list[tuple[Match, dict[str, Any]]]
    ) -> int:
        extra, learned = tracker.observe(post, matched, datetime.now(UTC))
        for alert in extra:
            await self.emit(alert)
        if self.send_learned is not None:
            acks = [
                await self.send_learned(entry.key.encode(), orjson.dumps(entry.to_json()))
                for entry in learned
            ]
            for ack in acks:
                await ack
        if learned:
            self.metrics.learned.set(len(tracker.learned()))
        return len(extra)

    async def replace_engine(self, engine: Engine) -> None:
        """Evaluate the posts after the current one with this engine."""
        async with self._lock:
            self.engine = engine

    async def sweep(self, partitions: Container[int]) -> int:
        """Close the suppression windows that have passed on these partitions; returns how
        many summary alerts were sent."""
        if self._suppressor is None:
            return 0
        async with self._lock:
            sent = await self._suppressor.sweep(partitions)
            self._count_windows()
            return sent

    async def emit(self, alert: dict[str, Any]) -> None:
        """Produce one alert (and its OCSF finding) and wait for the broker's acknowledgement."""
        key = alert["alert_id"].encode()
        acks = [await self.send_alert(key, orjson.dumps(alert))]
        if self.send_ocsf is not None:
            acks.append(await self.send_ocsf(key, orjson.dumps(detection_finding(alert))))
        for ack in acks:
            await ack
        rule, post = alert["rule"], alert["post"]
        self.metrics.alerts.labels(rule["id"], rule["severity"], alert["kind"]).inc()
        if alert["kind"] == "rule" and post.get("observed_at"):
            observed = datetime.fromisoformat(post["observed_at"])
            self.metrics.latency.observe((datetime.now(UTC) - observed).total_seconds())
        log.info(
            "alert",
            alert_id=alert["alert_id"],
            kind=alert["kind"],
            rule_id=rule["id"],
            post_id=post["id"],
            suppressed_count=alert.get("suppressed_count"),
        )

    def _count_windows(self) -> None:
        if self.windows is not None:
            self.metrics.windows_open.set(len(self.windows))
