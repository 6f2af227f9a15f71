"""What every connector builds on: the `Connector` protocol, the `Runtime` it talks to, its
errors, the resume cursor, and backoff.

A connector turns one source's native events into Post v1 dicts and hands them to its
`Runtime` (run by `postwatch.connectors.runtime.run_connector`), which produces them to the
posts topic through a `postwatch.connectors.sink.PostSink`: each post is checked against
the schema and produced keyed by `author.id`, with acks=all and idempotence, so a post the
sink reports as sent is on every in-sync replica. The runtime stores the connector's cursor
only after the posts up to it were acknowledged.

A complete connector that counts to three and resumes where it stopped (to run, it is
added to `postwatch.connectors.registry` under its `source`):

    >>> import asyncio
    >>> from typing import ClassVar
    >>> from postwatch.connectors.base import Cursor, Runtime
    >>> from postwatch.connectors.runtime import run_connector
    >>> from postwatch.settings import Settings
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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar

from structlog.typing import FilteringBoundLogger

from postwatch.connectors.metrics import InstanceMetrics
from postwatch.rules import InvalidPost

__all__ = [
    "Backoff",
    "Connector",
    "ConnectorError",
    "Cursor",
    "MalformedEvent",
    "RecentKeys",
    "Runtime",
    "SourceRejected",
    "SourceUnavailable",
    "StateError",
    "Stopped",
    "UnknownConnector",
    "parse_time",
]

T = TypeVar("T")

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


class Stopped(ConnectorError):
    """Raised by `Runtime.sleep` and `Runtime.interruptible` once a stop was asked: `run`
    lets it propagate and the runtime treats it as the normal end."""


def parse_time(value: object) -> datetime:
    """A timestamp from a source (ISO 8601 / RFC 3339), timezone-aware; raises
    `MalformedEvent("bad_timestamp")` for anything else, and for a time whose offset takes
    it out of the years 1 to 9999 once in UTC (`9999-12-31T23:59:59-12:00`), which could be
    neither compared nor written. Naive times are taken as UTC."""
    if not isinstance(value, str):  # not shown: a value nested deep enough breaks repr
        raise MalformedEvent("bad_timestamp", f"not a timestamp: a {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)  # raises OverflowError where UTC has no such year
    except (ValueError, OverflowError) as exc:
        raise MalformedEvent("bad_timestamp", f"not a timestamp: {value!r:.80}") from exc
    return moment


class Runtime(Protocol):
    """What a running connector talks to: one per connector instance."""

    stopping: asyncio.Event
    """Set once the connector is asked to stop."""
    metrics: InstanceMetrics
    log: FilteringBoundLogger
    """Bound to the connector's name and instance."""

    def event(self, source_time: datetime | None = None) -> None:
        """Count one event read from the source; `source_time` is when the source says it
        happened (for the seconds-behind gauge)."""

    async def emit(self, post: dict[str, Any]) -> InvalidPost | None:
        """Queue one Post v1: None once queued, or (counted and logged) the `InvalidPost`
        that kept it out because it breaks the schema."""

    async def delete(self, post_id: str) -> None:
        """Record that the source deleted `post_id`."""

    def skip(self, reason: str, *, quiet: bool = False, **context: Any) -> None:
        """Count and log one event that is not produced; `quiet` for the expected kinds
        (duplicates, events that are not posts), logged at debug level."""

    async def flush(self) -> None:
        """Wait until the broker acknowledged every post queued so far."""

    async def checkpoint(self) -> None:
        """Store the connector's cursor once the posts it covers are acknowledged."""

    async def retry_later(self, error: SourceUnavailable, attempt: int) -> None:
        """Log and count a fault, then wait (backoff with jitter, at least the source's
        `Retry-After`) before attempt number `attempt` (0 for the first retry)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`; raises `Stopped` as soon as a stop is asked."""

    async def interruptible(self, awaitable: Awaitable[T]) -> T:
        """Await a read from the source, abandoning it (`Stopped`) when a stop is asked.

        Only reads go through here: a read abandoned half-way has changed nothing, so the
        cursor stays exact."""


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
