"""Records faust skipped, read again straight from Kafka, so that none goes unprocessed.

faust-streaming can skip a record when partitions are (re)assigned: a record fetched after
the stream partitions are resumed but before flow control is resumed is dropped by the
stream, and once the record after it is acknowledged, the committed offset moves past both.
That would lose the record, and its alerts, for good. `GapFiller` watches the offsets the
agent sees: at the first record of a partition in a consumer generation it compares the
offset with the group's committed offset, and later with the offset after the previous
record; records in between are read with a plain consumer and processed first, before the
record after them, so their offsets are covered by the same commit.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from postwatch.settings import Settings
from postwatch.streams import StreamsError

__all__ = ["GapFiller", "Process", "RefetchFailed"]

log = structlog.get_logger(__name__)

Process = Callable[[bytes | None, bytes | None, str, int, int], Awaitable[int]]
"""Process one record: (key, value, topic, partition, offset)."""

_READ_TIMEOUT_S = 30.0


class RefetchFailed(StreamsError):
    """Skipped records could not be read again in time; the worker stops rather than go on
    without them (a restarted worker starts again from the committed offset)."""


@dataclass
class GapFiller:
    """Processes the records between the last one seen (or the committed offset) and the
    one about to be processed, if faust skipped any."""

    settings: Settings
    group: str
    process: Process
    _next: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)

    async def before(self, topic: str, partition: int, offset: int, generation: int) -> int:
        """Call before processing the record at `offset`; returns how many skipped records
        were found and processed first."""
        seen = self._next.get((topic, partition))
        if seen is None or seen[0] != generation:
            start = await self._committed(topic, partition)
        else:
            start = seen[1]
        filled = 0
        if start < offset:
            for record in await self._read(TopicPartition(topic, partition), start, offset):
                await self.process(record.key, record.value, topic, partition, record.offset)
                filled += 1
            log.warning(
                "records.refetched",
                topic=topic,
                partition=partition,
                first=start,
                next=offset,
                count=filled,
            )
        self._next[(topic, partition)] = (generation, offset + 1)
        return filled

    async def _committed(self, topic: str, partition: int) -> int:
        """The group's committed offset, or the partition's first offset if it has none."""
        tp = TopicPartition(topic, partition)
        admin = AIOKafkaAdminClient(**self.settings.kafka_client_options())
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.group, partitions=[tp])
        finally:
            await admin.close()
        committed = offsets.get(tp)
        if committed is not None and committed.offset >= 0:
            return int(committed.offset)
        consumer = AIOKafkaConsumer(**self.settings.kafka_client_options())
        await consumer.start()
        try:
            first: dict[TopicPartition, int] = await consumer.beginning_offsets([tp])
        finally:
            await consumer.stop()
        return first[tp]

    async def _read(
        self, tp: TopicPartition, start: int, end: int
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records of `tp` with offsets in [start, end) that still exist."""
        consumer = AIOKafkaConsumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # records removed by retention are gone: go on
            **self.settings.kafka_client_options(),
        )
        await consumer.start()
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            consumer.assign([tp])
            consumer.seek(tp, start)
            deadline = time.monotonic() + _READ_TIMEOUT_S
            while await consumer.position(tp) < end:
                if time.monotonic() > deadline:
                    raise RefetchFailed(f"{tp.topic}[{tp.partition}] offsets {start}..{end - 1}")
                batch = await consumer.getmany(tp, timeout_ms=500)
                records.extend(r for r in batch.get(tp, []) if r.offset < end)
        finally:
            await consumer.stop()
        return records
