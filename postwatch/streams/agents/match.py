"""The matching stage: Post v1 bytes in, Alert v1 records out, bad records to dead letter.

Records come in batches. Everything a batch produces (alerts, OCSF findings, dead letters,
learned fingerprints, suppression windows) is sent without waiting, and `process` returns
once the broker has acknowledged all of it; the worker commits the batch's offsets only
then. A crash can repeat alerts (with the same deterministic id) but never lose one. With
repeat suppression on, repeats are counted into the first alert's window instead (see
`suppress.py`); with OCSF on, each alert also goes to the OCSF topic. With the flood guard
on, the alerts each rule sends are counted, and a rule that sends too many is shadowed (see
`postwatch.rules.flood`).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
import orjson
import structlog

from postwatch.alerts.ocsf import detection_finding
from postwatch.kafka.clients import MessageSizeTooLargeError
from postwatch.kafka.deadletter import Record, dead_letter
from postwatch.rules import Engine, InvalidPost, Post, parse_post, parse_posts
from postwatch.rules.alerts import Alert, encode
from postwatch.rules.detectors.mirror import Tracker
from postwatch.rules.evaluate import Failed, Raised, evaluate_batch
from postwatch.rules.flood import FloodGuard
from postwatch.streams.agents.suppress import Suppressor, WindowStore
from postwatch.streams.metrics import Metrics

__all__ = ["Acks", "MatchStage", "Send", "settle_heap"]

log = structlog.get_logger(__name__)


def settle_heap() -> None:
    """Collect garbage once and exempt everything alive now (above all the compiled engine,
    hundreds of thousands of objects) from later collections. With a 10,000-phrase engine
    a full collection took 0.2-0.3 s, and the objects of the batches in flight set one off
    about every 100,000 posts: each was a stall for every post waiting behind it."""
    gc.unfreeze()  # the engine this one replaces may be garbage now
    gc.collect()
    gc.freeze()


class Send(Protocol):
    """Produce one record; the awaitable it returns completes when the broker acknowledges."""

    async def __call__(self, key: bytes | None, value: bytes) -> Awaitable[Any]: ...


@dataclass
class Acks:
    """Broker acknowledgements not yet waited for."""

    _pending: list[Awaitable[Any]] = field(default_factory=list)

    def add(self, ack: Awaitable[Any]) -> None:
        self._pending.append(ack)

    async def wait(self) -> None:
        """Return once every acknowledgement added so far has come; raises the first
        delivery error (the others are still waited for)."""
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


@dataclass
class MatchStage:
    """Evaluate batches of records, produce their alerts or their dead letters.

    `windows` turns repeat suppression on, with windows of `window_s` seconds; `send_ocsf`
    turns on the OCSF rendering of every alert. `tracker` turns on mirror detection: its
    alerts are emitted with the engine's (never suppressed), and what a post teaches goes to
    `send_learned` (keyed by entry) for every worker. `acks` collects the acknowledgements of
    everything sent, the window store's included. `flood` turns the flood guard on: the
    alerts of the rules it shadows are sent with `shadow: true`, and a rule that trips it
    is shadowed here at once, its record sent with `send_flood` (for every worker) and its
    `rule_flood` alert with the others. `process`, `sweep` and `replace_engine` never overlap.
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
    acks: Acks = field(default_factory=Acks)
    flood: FloodGuard | None = None
    send_flood: Send | None = None
    _suppressor: Suppressor | None = field(init=False, default=None)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        if self.windows is not None and self.window_s > 0:
            self._suppressor = Suppressor(self.windows, self.window_s, self.emit, self.acks.wait)

    async def process(self, records: Sequence[Record]) -> int:
        """Handle a batch of records, in order; returns once everything they produced is
        acknowledged, with the number of alerts produced."""
        async with self._lock:
            posts: list[tuple[Post, Record]] = []
            for record, post in zip(records, self._decode(records), strict=True):
                if isinstance(post, InvalidPost):
                    await self._deadletter(record, post.reason, post.error)
                elif isinstance(post, Exception):
                    await self._deadletter(record, "decode_failed", repr(post))
                else:
                    posts.append((post, record))
            sent = 0
            batch = [post for post, _ in posts]
            clock = time.monotonic()  # the flood guard's: one moment a batch is fine enough
            for outcome in evaluate_batch(self.engine, self.tracker, batch, datetime.now(UTC)):
                record = posts[outcome.index][1]
                if isinstance(outcome, Failed):
                    log.error("record.evaluation_failed", exc_info=outcome.error)
                    await self._deadletter(record, "evaluation_failed", repr(outcome.error))
                    continue
                try:
                    sent += await self._send(outcome, record.partition, clock)
                except MessageSizeTooLargeError as exc:  # refused before it was sent
                    await self._deadletter(record, "alert_too_large", str(exc))
            await self.acks.wait()
            self.metrics.posts.inc(len(posts))
            self._count_windows()
            return sent

    def _decode(self, records: Sequence[Record]) -> list[Post | Exception]:
        """Each record's post, or why it is none: `InvalidPost`, or another exception
        for a defect in decoding (logged), which must not stop the worker. The batch is
        decoded together, and record by record if that fails."""
        values = [record.value if record.value is not None else b"" for record in records]
        try:
            return list(parse_posts(values))
        except Exception:  # find the record(s) that raise, one at a time
            log.exception("batch.decode_failed", records=len(records))
        decoded: list[Post | Exception] = []
        for record, value in zip(records, values, strict=True):
            try:
                decoded.append(parse_post(value))
            except InvalidPost as exc:
                decoded.append(exc)
            except Exception as exc:  # a defect in decoding: must not stop the worker
                log.exception("record.decode_failed", offset=record.offset)
                decoded.append(exc)
        return decoded

    async def _deadletter(self, record: Record, reason: str, error: str) -> None:
        letter = dead_letter(record, reason, error)
        log.warning(
            "record.deadletter",
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        self.acks.add(await self.send_deadletter(record.key, letter.encode()))
        self.metrics.deadletters.labels(reason).inc()

    async def _send(self, raised: Raised, partition: int, clock: float) -> int:
        """Send what one post raised and taught; returns the number of alerts sent."""
        sent = len(raised.extra)
        guard = self.flood
        with structlog.contextvars.bound_contextvars(post_id=raised.post.id):
            for match, matched_alert in raised.matched:
                alert, counted, flooded = matched_alert, False, False
                if guard is not None and not alert.shadow:  # a shadow rule's are not counted
                    flooded = alert.rule.id in guard.shadowed
                    counted = not flooded
                    if flooded:
                        alert = msgspec.structs.replace(alert, shadow=True)
                if self._suppressor is None:
                    await self.emit(alert)
                elif not await self._suppressor.admit(match, alert, partition):
                    self.metrics.suppressed.labels(match.rule.id).inc()
                    continue
                sent += 1
                if flooded:
                    self.metrics.count_flood_shadowed(alert.rule.id)
                elif counted and guard is not None:  # alerts sent, repeats suppressed aside
                    rule = alert.rule
                    tripped = guard.count(rule.id, rule.pack, clock)
                    if tripped is not None:
                        await self._trip(guard, alert, tripped)
                        sent += 1
            for alert in raised.extra:  # mirror detection's alerts are never suppressed
                await self.emit(alert)
        if self.send_learned is not None:
            for entry in raised.learned:
                key, value = entry.key.encode(), entry.encode()
                self.acks.add(await self.send_learned(key, value))
        if raised.learned and self.tracker is not None:
            self.metrics.learned.set(len(self.tracker.learned()))
        return sent

    async def _trip(self, guard: FloodGuard, alert: Alert, count: int) -> None:
        """The rule of `alert` took the guard over its limit: shadow it here, tell every
        worker, and send its `rule_flood` alert."""
        trip = guard.trip(alert, count, datetime.now(UTC))
        record = trip.record
        log.warning(
            "rule.flooded",
            rule_id=record.rule,
            pack=record.pack,
            alerts=count,
            limit=record.limit,
            alert_id=trip.alert.alert_id,
        )
        if self.send_flood is not None:
            self.acks.add(await self.send_flood(record.rule.encode(), record.encode()))
        await self.emit(trip.alert)
        self.metrics.flood_trips.labels(record.rule).inc()

    async def replace_engine(self, engine: Engine) -> None:
        """Evaluate the batches after the current one with this engine."""
        async with self._lock:
            self.engine = engine
            settle_heap()

    async def sweep(self, partitions: Container[int]) -> int:
        """Close the suppression windows that have passed on these partitions; returns how
        many summary alerts were sent (and acknowledged)."""
        if self._suppressor is None:
            return 0
        async with self._lock:
            sent = await self._suppressor.sweep(partitions)
            await self.acks.wait()
            self._count_windows()
            return sent

    async def emit(self, alert: Alert) -> None:
        """Send one alert (and its OCSF finding); acknowledged when `acks` is waited for."""
        key = alert.alert_id.encode()
        self.acks.add(await self.send_alert(key, encode(alert)))
        if self.send_ocsf is not None:
            self.acks.add(await self.send_ocsf(key, orjson.dumps(detection_finding(alert))))
        rule, post = alert.rule, alert.post
        self.metrics.count_alert(rule.id, rule.severity, alert.kind)
        if alert.kind == "rule" and post.observed_at:
            observed = datetime.fromisoformat(post.observed_at)
            self.metrics.latency.observe((datetime.now(UTC) - observed).total_seconds())
        log.debug(  # counted in metrics; at info a rule that matches most posts floods the log
            "alert",
            alert_id=alert.alert_id,
            kind=alert.kind,
            rule_id=rule.id,
            post_id=post.id,
            suppressed_count=alert.suppressed_count,
        )

    def _count_windows(self) -> None:
        if self.windows is not None:
            self.metrics.windows_open.set(len(self.windows))
