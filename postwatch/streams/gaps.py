"""Records faust skipped, read again straight from Kafka, so that none goes unprocessed.

faust-streaming can skip a record when partitions are (re)assigned: a record fetched after
the stream partitions are resumed but before flow control is resumed is dropped by the
stream, and once the record after it is acknowledged, the committed offset moves past both.
That would lose the record, and its alerts, for good. `GapFiller` watches the offsets the
agent sees: at the first record of a partition in a consumer generation it compares the
offset with the group's committed offset, and later with the offset after the previous
record; records in between are read with a plain consumer and processed first, before the
record after them, so their offsets are covered by the same commit. A skipped record with
none after it is found from the consumer's position once its partition has gone quiet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
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
    one about to be processed, if faust skipped any; and, when a partition has gone quiet,
    the records up to the consumer's position that never came (a skipped last record)."""

    settings: Settings
    group: str
    process: Process
    _next: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    _seen_at: dict[tuple[str, int], float] = field(default_factory=dict)
    _checked: dict[tuple[str, int], int] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def before(self, topic: str, partition: int, offset: int, generation: int) -> int:
        """Call before processing the record at `offset`; returns how many skipped records
        were found and processed first."""
        async with self._lock:
            self._seen_at[(topic, partition)] = time.monotonic()
            start = await self._expected(topic, partition, generation)
            filled = await self._fill(topic, partition, start, offset)
            self._next[(topic, partition)] = (generation, offset + 1)
            return filled

    async def catch_up(
        self, positions: Mapping[tuple[str, int], int], generation: int, idle_s: float
    ) -> int:
        """For each partition that saw no record for `idle_s` seconds although the consumer's
        `positions` are past the next record expected, process the records in between (the
        stream skipped them and nothing came after); returns how many."""
        filled = 0
        async with self._lock:
            for (topic, partition), position in positions.items():
                if (topic, partition) not in self._seen_at:  # quiet from now on, at most
                    self._seen_at[(topic, partition)] = time.monotonic()
                quiet = time.monotonic() - self._seen_at[(topic, partition)]
                seen = self._next.get((topic, partition))
                if quiet < idle_s or (seen is not None and seen[1] >= position):
                    continue
                if self._checked.get((topic, partition)) == position:
                    continue  # looked at this position already: nothing was missing
                self._checked[(topic, partition)] = position
                start = await self._expected(topic, partition, generation)
                filled += await self._fill(topic, partition, start, position)
                self._next[(topic, partition)] = (generation, max(start, position))
                self._seen_at[(topic, partition)] = time.monotonic()
        return filled

    async def _expected(self, topic: str, partition: int, generation: int) -> int:
        seen = self._next.get((topic, partition))
        if seen is None or seen[0] != generation:
            return await self._committed(topic, partition)
        return seen[1]

    async def _fill(self, topic: str, partition: int, start: int, end: int) -> int:
        if start >= end:
            return 0
        filled = 0
        for record in await self._read(TopicPartition(topic, partition), start, end):
            await self.process(record.key, record.value, topic, partition, record.offset)
            filled += 1
        log.warning(
            "records.refetched",
            topic=topic,
            partition=partition,
            first=start,
            end=end,
            count=filled,
        )
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
        try:
            await consumer.start()
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
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            await consumer.start()
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
