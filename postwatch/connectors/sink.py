"""The `PostSink`: where connectors' posts and deletion notices go to Kafka."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from postwatch.kafka.clients import MessageSizeTooLargeError, ProducerOwner, new_producer
from postwatch.kafka.topics import DELETIONS, POSTS, POSTS_RAW
from postwatch.rules import InvalidPost, post_from_dict
from postwatch.rules.alerts import isoformat
from postwatch.settings import Settings

__all__ = ["PostSink", "SinkStats"]

_IN_FLIGHT = 1000


@dataclass
class SinkStats:
    produced: int = 0
    invalid: int = 0


class PostSink(ProducerOwner):
    """Validates Post v1 dicts and produces them to the posts topic (the raw posts topic
    when media enrichment is on), keyed by `author.id`, with acks=all and idempotence.

    `send` returns once the record is queued; `flush` (and leaving the `async with` block)
    waits until the broker has acknowledged every record sent so far, deletion notices
    included.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(new_producer(settings, enable_idempotence=True, linger_ms=5))
        self._topic = settings.topic(POSTS_RAW if settings.enrich else POSTS)
        self._deletions = settings.topic(DELETIONS)
        self._pending: list[asyncio.Future[Any]] = []
        self.stats = SinkStats()

    async def send(self, post: dict[str, Any]) -> None:
        """Queue one post; raises `InvalidPost` (and sends nothing) if it breaks the schema,
        is nested deeper than it can be written back (`too_deep`, past 254 levels) or is
        bigger than one Kafka record (`too_large`)."""
        try:
            await self._send(post)
        except InvalidPost:
            self.stats.invalid += 1
            raise

    async def _send(self, post: dict[str, Any]) -> None:
        try:
            post_from_dict(post)
            post.setdefault("observed_at", isoformat(datetime.now(UTC)))
            value = orjson.dumps(post)
        except (RecursionError, orjson.JSONEncodeError) as exc:  # orjson writes 254 levels
            raise InvalidPost("too_deep", f"nested deeper than can be written: {exc}") from exc
        try:
            await self._queue(self._topic, value, post["author"]["id"].encode("utf-8"))
        except MessageSizeTooLargeError as exc:  # refused before it was queued
            raise InvalidPost("too_large", str(exc)) from exc

    async def send_deletion(self, post_id: str, source: str) -> None:
        """Queue a notice that the post `post_id` was deleted at the source."""
        notice = {
            "schema": "postwatch.deletion/1",
            "id": post_id,
            "source": source,
            "observed_at": isoformat(datetime.now(UTC)),
        }
        await self._queue(self._deletions, orjson.dumps(notice), post_id.encode("utf-8"))

    async def _queue(self, topic: str, value: bytes, key: bytes) -> None:
        self._pending.append(await self._producer.send(topic, value, key=key))
        if len(self._pending) >= _IN_FLIGHT:
            await self.flush()

    async def flush(self) -> None:
        """Wait for the broker to acknowledge every record sent so far."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
            self.stats.produced += len(pending)
