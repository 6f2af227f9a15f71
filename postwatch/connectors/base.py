"""What every connector builds on: the `Connector` protocol, its errors, the resume cursor,
backoff, and the `PostSink` that produces Post v1 records to the posts topic.

A connector turns one source's native events into Post v1 dicts and hands them to the
runtime (`postwatch.connectors.runtime`), which sends them through a `PostSink`: each post is
checked against the schema and produced keyed by `author.id`, with acks=all and idempotence,
so a post the sink reports as sent is on every in-sync replica. The runtime stores the
connector's cursor only after the posts up to it were acknowledged.

A complete connector that counts to three and resumes where it stopped (to run, it is
added to `postwatch.connectors.registry` under its `source`):

    >>> from typing import ClassVar
    >>> from postwatch.connectors.base import Cursor
    >>> from postwatch.connectors.runtime import Runtime, run_connector
    >>> class Counter:
    ...     source: ClassVar[str] = "count"
    ...     def __init__(self) -> None:
    ...         self.instance = "count-demo"
    ...         self.done = 0
    ...     def restore(self, cursor: Cursor) -> None:
    ...         self.done = int(cursor.get("done", 0))
    ...     def snapshot(self) -> Cursor:
    ...         return {"done": self.done}
    ...     async def run(self, runtime: Runtime) -> None:
    ...         for n in range(self.done, 3):
    ...             await runtime.emit({"schema": "postwatch.post/1", "id": f"count:{n}",
    ...                                 "source": "count", "author": {"id": "count:me"},
    ...                                 "created_at": "2025-07-25T10:00:00Z", "text": str(n)})
    ...             self.done = n + 1
    >>> asyncio.run(run_connector(Settings(), Counter()))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from postwatch.rules import InvalidPost, post_from_dict
from postwatch.rules.alerts import isoformat
from postwatch.settings import Settings
from postwatch.streams.topics import POSTS

if TYPE_CHECKING:
    from postwatch.connectors.runtime import Runtime

__all__ = [
    "DELETIONS",
    "Backoff",
    "Connector",
    "ConnectorError",
    "Cursor",
    "MalformedEvent",
    "PostSink",
    "RecentKeys",
    "SinkStats",
    "SourceRejected",
    "SourceUnavailable",
    "StateError",
    "UnknownConnector",
    "parse_time",
]

_IN_FLIGHT = 1000

DELETIONS = "post-deletions"
"""Topic (after the prefix) of deletion notices, keyed by post id, so that downstream can
mark alerts on posts their author deleted."""

Cursor = dict[str, Any]
"""A connector's resume position: a JSON object only the connector itself interprets."""


class ConnectorError(Exception):
    """Root of the errors connectors raise."""


class SourceUnavailable(ConnectorError):
    """The source is down, cut the connection or asked us to slow down: retry later.

    `reason` is a short stable code for metrics (`disconnected`, `http_503`, ...);
    `retry_after` is the source's own wish in seconds (`Retry-After`, 429), if it said one.
    """

    def __init__(
        self, message: str, *, reason: str = "unavailable", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class SourceRejected(ConnectorError):
    """The source refuses us for good (bad credentials, unknown stream): the connector stops."""


class MalformedEvent(ConnectorError):
    """One event the connector cannot turn into a post; `reason` is a short stable code for
    metrics. It is counted, logged and skipped, never fatal."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class StateError(ConnectorError):
    """The cursor store could not be read or written."""


class UnknownConnector(ConnectorError):
    """A connector that is not in the registry was asked to run."""


def parse_time(value: object) -> datetime:
    """A timestamp from a source (ISO 8601 / RFC 3339), timezone-aware; raises
    `MalformedEvent("bad_timestamp")` for anything else. Naive times are taken as UTC."""
    if not isinstance(value, str):
        raise MalformedEvent("bad_timestamp", f"not a timestamp: {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedEvent("bad_timestamp", f"not a timestamp: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Connector(Protocol):
    """One source instance. The runtime calls `restore` with the stored cursor (if any),
    then awaits `run`, and calls `snapshot` whenever it stores a checkpoint.

    `run` reads the source until `runtime.stopping` is set, hands each post to
    `runtime.emit` and updates the state `snapshot` reports only after `emit` returned, so a
    snapshot never covers a post that was not sent. Transient faults are retried inside
    `run` with `runtime.retry_later`; `SourceRejected` ends it.
    """

    source: ClassVar[str]
    instance: str
    """Names the cursor in the state topic: stable across restarts of the same instance."""

    def restore(self, cursor: Cursor) -> None: ...

    def snapshot(self) -> Cursor: ...

    async def run(self, runtime: Runtime) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits a random time in
    [0, min(maximum, initial * 2**n)], and never less than what the source asked for."""

    initial: float = 1.0
    maximum: float = 60.0

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        ceiling = min(self.maximum, self.initial * 2.0 ** min(attempt, 32))
        jittered = ceiling * rand()
        return max(jittered, retry_after) if retry_after is not None else jittered


class RecentKeys:
    """The last `capacity` keys seen, oldest dropped first: remembers what was already
    emitted so that overlapping reads (backfill, rewound cursors) repeat nothing."""

    def __init__(self, capacity: int, keys: Iterable[str] = ()) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()
        for key in keys:
            self.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)

    def keys(self) -> list[str]:
        """Oldest first, as `RecentKeys(capacity, keys)` takes them back."""
        return list(self._keys)


@dataclass
class SinkStats:
    produced: int = 0
    invalid: int = 0


class PostSink:
    """Validates Post v1 dicts and produces them to the posts topic.

    `send` returns once the record is queued; `flush` (and leaving the `async with` block)
    waits until the broker has acknowledged every record sent so far, deletion notices
    included.
    """

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.topic(POSTS)
        self._deletions = settings.topic(DELETIONS)
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
