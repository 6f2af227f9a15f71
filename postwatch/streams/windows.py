"""Worker state kept in memory and in compacted changelog topics: the open repeat-suppression
windows (`ChangelogWindows`) and what the detectors hold of each author (`Changelog` of
`AuthorState`: look-alike pairs alerted, escalation windows).

A changelog has as many partitions as the posts topic, and an entry is written to the
partition of the post it came from. A worker reads the changelog partitions of the posts
partitions it is assigned before it processes their posts, and forgets the entries of the
partitions taken from it; so the state survives a restart and moves with its partition.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Generic, TypeVar

import msgspec
import structlog

from postwatch.kafka.clients import AIOKafkaProducer
from postwatch.kafka.topics import scan
from postwatch.settings import Settings
from postwatch.streams.agents.match import Acks
from postwatch.streams.agents.suppress import Window

__all__ = ["Changelog", "ChangelogWindows"]

log = structlog.get_logger(__name__)

_ENCODER = msgspec.json.Encoder()
_T = TypeVar("_T", bound=msgspec.Struct)


class Changelog(Generic[_T]):
    """Entries (`kind` JSON) by key, each of one partition, whose changes go to `topic`
    through `producer`; their acknowledgements are added to `acks`."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        producer: AIOKafkaProducer,
        acks: Acks,
        kind: type[_T],
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.acks = acks
        self.data: dict[str, tuple[int, _T]] = {}
        self._decoder = msgspec.json.Decoder(kind)

    async def write(self, key: str, value: _T | None, partition: int) -> None:
        """Keep an entry of this partition (or, None, forget it) and send the change."""
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = (partition, value)
        encoded = None if value is None else _ENCODER.encode(value)
        self.acks.add(
            await self.producer.send(self.topic, encoded, key=key.encode(), partition=partition)
        )

    def __len__(self) -> int:
        return len(self.data)

    async def restore(self, partitions: Collection[int]) -> list[_T]:
        """Read the entries of these partitions from the changelog; returns them."""
        if not partitions:
            return []
        restored: dict[str, tuple[int, _T] | None] = {}
        async for record in scan(self.settings, self.topic, partitions):
            key = (record.key or b"").decode("utf-8", "replace")
            try:
                value = self._decoder.decode(record.value) if record.value else None
            except msgspec.DecodeError as exc:  # not an entry this code wrote: passed over
                log.warning(
                    "changelog.unreadable",
                    topic=self.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=str(exc)[:300],
                )
                continue
            restored[key] = None if value is None else (record.partition, value)
        for key, entry in restored.items():
            if entry is None:
                self.data.pop(key, None)
            else:
                self.data[key] = entry
        found = [entry[1] for entry in restored.values() if entry is not None]
        log.info(
            "changelog.restored",
            topic=self.topic,
            partitions=sorted(partitions),
            entries=len(found),
        )
        return found

    def drop(self, partitions: Collection[int]) -> list[_T]:
        """Forget the entries of partitions this worker no longer owns (kept in the
        changelog for their new owner); returns them."""
        dropped = [value for partition, value in self.data.values() if partition in partitions]
        self.data = {k: e for k, e in self.data.items() if e[0] not in partitions}
        return dropped


class ChangelogWindows(Changelog[Window]):
    """The `WindowStore` of repeat suppression: windows by suppression key."""

    def __init__(
        self, settings: Settings, topic: str, producer: AIOKafkaProducer, acks: Acks
    ) -> None:
        super().__init__(settings, topic, producer, acks, Window)

    def get(self, key: str) -> Window | None:
        entry = self.data.get(key)
        return None if entry is None else entry[1]

    async def put(self, key: str, window: Window) -> None:
        await self.write(key, window, window.partition)

    async def delete(self, key: str, partition: int) -> None:
        await self.write(key, None, partition)

    def items(self) -> list[tuple[str, Window]]:
        return [(key, window) for key, (_, window) in self.data.items()]
