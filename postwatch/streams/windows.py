"""Repeat-suppression windows kept in memory and in a compacted changelog topic.

The changelog has as many partitions as the posts topic, and a window is written to the
partition of the post that opened it. A worker reads the changelog partitions of the posts
partitions it is assigned before it processes their posts, and forgets the windows of the
partitions taken from it; so open windows survive a restart and move with their partition.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
import structlog

from postwatch.kafka.clients import AIOKafkaProducer
from postwatch.kafka.topics import scan
from postwatch.settings import Settings
from postwatch.streams.agents.match import Acks

__all__ = ["ChangelogWindows"]

log = structlog.get_logger(__name__)


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
        self.data: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    async def put(self, key: str, window: dict[str, Any]) -> None:
        self.data[key] = window
        self.acks.add(
            await self.producer.send(
                self.topic, orjson.dumps(window), key=key.encode(), partition=window["partition"]
            )
        )

    async def delete(self, key: str, partition: int) -> None:
        self.data.pop(key, None)
        self.acks.add(
            await self.producer.send(self.topic, None, key=key.encode(), partition=partition)
        )

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.data.items())

    def __len__(self) -> int:
        return len(self.data)

    async def restore(self, partitions: Collection[int]) -> int:
        """Read the windows of these partitions from the changelog; returns how many."""
        if not partitions:
            return 0
        restored: dict[str, dict[str, Any] | None] = {}
        async for record in scan(self.settings, self.topic, partitions):
            key = (record.key or b"").decode()
            restored[key] = orjson.loads(record.value) if record.value else None
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
        self.data = {k: w for k, w in self.data.items() if w["partition"] not in partitions}
