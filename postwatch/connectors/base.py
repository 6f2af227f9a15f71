"""What every connector builds on: settings in, Post v1 records out to the posts topic.

A connector turns one source's native events into Post v1 dicts and hands them to a
`PostSink`, which checks each against the schema and produces it keyed by `author.id`, with
acks=all and idempotence, so a post the sink reports as sent is on every in-sync replica.

    >>> import asyncio
    >>> from postwatch.connectors.base import PostSink
    >>> from postwatch.settings import Settings
    >>> async def main() -> None:
    ...     async with PostSink(Settings()) as sink:
    ...         await sink.send({"schema": "postwatch.post/1", "id": "demo:1", "source": "demo",
    ...                          "author": {"id": "demo:a"}, "created_at": "2025-07-25T10:00:00Z",
    ...                          "text": "hello"})
    >>> asyncio.run(main())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from postwatch.rules import InvalidPost, post_from_dict
from postwatch.rules.alerts import isoformat
from postwatch.settings import Settings
from postwatch.streams.topics import POSTS

__all__ = ["ConnectorError", "PostSink", "SinkStats"]

_IN_FLIGHT = 1000


class ConnectorError(Exception):
    """Root of the errors connectors raise: a fault that stops the connector."""


@dataclass
class SinkStats:
    produced: int = 0
    invalid: int = 0


class PostSink:
    """Validates Post v1 dicts and produces them to the posts topic.

    `send` returns once the record is queued; `flush` (and leaving the `async with` block)
    waits until the broker has acknowledged every record sent so far.
    """

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.topic(POSTS)
        self._producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            **settings.kafka_client_options(),
        )
        self._pending: list[asyncio.Future[Any]] = []
        self.stats = SinkStats()

    async def __aenter__(self) -> PostSink:
        await self._producer.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                await self.flush()
        finally:
            await self._producer.stop()

    async def send(self, post: dict[str, Any]) -> None:
        """Queue one post; raises `InvalidPost` (and sends nothing) if it breaks the schema."""
        try:
            post_from_dict(post)
        except InvalidPost:
            self.stats.invalid += 1
            raise
        post.setdefault("observed_at", isoformat(datetime.now(UTC)))
        key = post["author"]["id"].encode("utf-8")
        self._pending.append(await self._producer.send(self._topic, orjson.dumps(post), key=key))
        if len(self._pending) >= _IN_FLIGHT:
            await self.flush()

    async def flush(self) -> None:
        """Wait for the broker to acknowledge every post sent so far."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
            self.stats.produced += len(pending)
