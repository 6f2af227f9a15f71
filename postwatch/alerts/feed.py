"""Reading the alerts topic: from the beginning, from now, or from a moment in the past.

Viewers (`tail`, `serve`) read every partition without a consumer group and commit
nothing; the forwarder reads in a consumer group and commits each alert once it is handled.
It reads the decisions topic too (`escalations`): each `escalate` decision comes as the
alert it escalates, one severity higher (`postwatch.rules.decisions.escalated`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec
import orjson
import structlog

from postwatch.alerts import MissingTopic
from postwatch.kafka.clients import (
    AIOKafkaConsumer,
    ConsumerRebalanceListener,
    TopicPartition,
    new_consumer,
)
from postwatch.kafka.topics import ALERTS, DECISIONS, partitions_of
from postwatch.rules.alerts import encode
from postwatch.rules.decisions import Decision, escalated
from postwatch.settings import Settings

__all__ = ["AlertRecord", "Start", "read_alerts"]

log = structlog.get_logger(__name__)

Start = Literal["beginning", "end"] | datetime
"""Where reading starts: the oldest alert kept, the next alert to come, or a moment."""


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert as read, with where it was read from and its bytes as produced."""

    alert: dict[str, Any]
    value: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int


@contextlib.asynccontextmanager
async def read_alerts(
    settings: Settings, start: Start, *, group: str | None = None, escalations: bool = False
) -> AsyncIterator[tuple[AIOKafkaConsumer, AsyncIterator[AlertRecord]]]:
    """The consumer and an endless iterator of alerts; records that are not JSON objects are
    logged and skipped. With `group`, the group's committed positions win over `start`,
    which then only says where a new group begins (`end`, or else the beginning); with
    `escalations` as well, the escalated alerts of the decisions topic come too."""
    topic = settings.topic(ALERTS)
    consumer = new_consumer(
        settings, group_id=group, auto_offset_reset="latest" if start == "end" else "earliest"
    )
    await consumer.start()
    try:
        if group is not None:
            topics = [topic, settings.topic(DECISIONS)] if escalations else [topic]
            consumer.subscribe(topics, listener=_NewGroupStart(consumer))
        else:
            await _assign(consumer, settings, start)
        yield consumer, _records(consumer, settings.topic(DECISIONS))
    finally:
        await consumer.stop()


class _NewGroupStart(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Where a consumer group begins on a partition it has never committed (at the end when
    it starts from `end`, else at the beginning) is committed at once, so that a later run
    of the group resumes there even if no alert came on that partition in the meantime."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Nothing to do: each alert is committed as soon as it is handled."""

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:
            if await self.consumer.committed(tp) is None:
                # the position comes from auto_offset_reset; seeking here instead would race
                # with records already fetched from the reset position
                await self.consumer.commit({tp: await self.consumer.position(tp)})


async def _assign(consumer: AIOKafkaConsumer, settings: Settings, start: Start) -> None:
    topic = settings.topic(ALERTS)
    numbers = await partitions_of(settings, topic)
    if not numbers:
        raise MissingTopic.of(topic, settings.kafka_bootstrap)
    partitions = [TopicPartition(topic, p) for p in numbers]
    consumer.assign(partitions)
    if start == "beginning":
        await consumer.seek_to_beginning(*partitions)
    elif start == "end":
        await consumer.seek_to_end(*partitions)
    else:
        wanted = int(start.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(partitions, wanted))
        late = [tp for tp, at in found.items() if at is None]
        for tp, at in found.items():
            if at is not None:
                consumer.seek(tp, at.offset)
        if late:  # nothing that recent there yet: start at their ends
            # explicit offsets: seek_to_end here loses to auto_offset_reset="earliest"
            ends = await consumer.end_offsets(late)
            for tp in late:
                consumer.seek(tp, ends[tp])
    for tp in partitions:  # fix the positions now, before any later alert exists
        await consumer.position(tp)


def _escalation(value: bytes) -> bytes | None:
    """The escalated alert of a decision record, None for any other verdict; a record that
    is no decision is logged and passed over."""
    try:
        decision = Decision.decode(value)
    except msgspec.DecodeError as exc:
        log.warning("decision.unreadable", error=str(exc)[:500])
        return None
    return encode(escalated(decision.alert)) if decision.verdict == "escalate" else None


async def _records(consumer: AIOKafkaConsumer, decisions: str) -> AsyncIterator[AlertRecord]:
    while True:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                value = record.value or b""
                if record.topic == decisions:
                    raised = _escalation(value)
                    if raised is None:
                        continue
                    value = raised
                try:
                    alert = orjson.loads(value)
                except orjson.JSONDecodeError as exc:
                    alert, error = None, str(exc)
                else:
                    error = "not a JSON object"
                if not isinstance(alert, dict):
                    log.warning(
                        "alert.unreadable",
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        error=error,
                    )
                    continue
                yield AlertRecord(
                    alert,
                    value,
                    record.key,
                    record.topic,
                    record.partition,
                    record.offset,
                )
