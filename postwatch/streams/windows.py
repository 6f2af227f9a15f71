"""Repeat-suppression windows kept in memory and in a compacted changelog topic.

The changelog has as many partitions as the posts topic, and a window is written to the
partition of the post that opened it. A worker reads the changelog partitions of the posts
partitions it is assigned before it processes their posts, and forgets the windows of the
partitions taken from it; so open windows survive a restart and move with their partition.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec
import structlog

from postwatch.kafka.clients import AIOKafkaProducer
from postwatch.kafka.topics import scan
from postwatch.settings import Settings
from postwatch.streams.agents.match import Acks
from postwatch.streams.agents.suppress import Window

__all__ = ["ChangelogWindows"]

log = structlog.get_logger(__name__)

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Window)


class ChangelogWindows:
    """A `WindowStore` whose changes go to `topic` through `producer`; their
    acknowledgements are added to `acks`."""

    def __init__(
        self, settings: Settings, topic: str, producer: AIOKafkaProducer, acks: Acks
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.acks = acks
        self.data: dict[str, Window] = {}

    def get(self, key: str) -> Window | None:
        return self.data.get(key)

    async def put(self, key: str, window: Window) -> None:
        self.data[key] = window
        self.acks.add(
            await self.producer.send(
                self.topic, _ENCODER.encode(window), key=key.encode(), partition=window.partition
            )
        )

    async def delete(self, key: str, partition: int) -> None:
        self.data.pop(key, None)
        self.acks.add(
            await self.producer.send(self.topic, None, key=key.encode(), partition=partition)
        )

    def items(self) -> list[tuple[str, Window]]:
        return list(self.data.items())

    def __len__(self) -> int:
        return len(self.data)

    async def restore(self, partitions: Collection[int]) -> int:
        """Read the windows of these partitions from the changelog; returns how many."""
        if not partitions:
            return 0
        restored: dict[str, Window | None] = {}
        async for record in scan(self.settings, self.topic, partitions):
            key = (record.key or b"").decode("utf-8", "replace")
            try:
                restored[key] = _DECODER.decode(record.value) if record.value else None
            except msgspec.DecodeError as exc:  # not a window this code wrote: passed over
                log.warning(
                    "windows.unreadable",
                    partition=record.partition,
                    offset=record.offset,
                    error=str(exc)[:300],
                )
        for key, window in restored.items():
            if window is None:
                self.data.pop(key, None)
            else:
                self.data[key] = window
        count = sum(window is not None for window in restored.values())
        log.info("windows.restored", partitions=sorted(partitions), windows=count)
        return count

    def drop(self, partitions: Collection[int]) -> None:
        """Forget the windows of partitions this worker no longer owns (kept in the
        changelog for their new owner)."""
        self.data = {k: w for k, w in self.data.items() if w.partition not in partitions}
