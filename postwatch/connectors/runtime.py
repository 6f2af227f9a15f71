"""Runs one connector: cursor restored at start, posts out through a `PostSink`, cursor
checkpoints stored only after the posts up to them were acknowledged, backoff between
reconnections, metrics and logs, and a clean shutdown on SIGTERM/SIGINT that flushes the
producer and stores the final cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog

from postwatch.connectors.base import (
    Backoff,
    Connector,
    Cursor,
    SourceRejected,
    SourceUnavailable,
    Stopped,
)
from postwatch.connectors.metrics import InstanceMetrics, serve_metrics
from postwatch.connectors.registry import check_registered
from postwatch.connectors.sink import PostSink
from postwatch.connectors.state import CursorStore
from postwatch.kafka.topics import ensure_connector_topics
from postwatch.rules import InvalidPost
from postwatch.settings import Settings

__all__ = ["InstanceRuntime", "LogQuota", "run_connector"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

_STOP_GRACE_S = 10.0


class LogQuota:
    """Says which warnings of a kind to log: the first `per_window` of each kind in every
    `window_s` seconds. `take` answers for one warning, with the kinds whose warnings went
    unlogged in the windows before and how many (to be said once, then forgotten): a flood
    of bad records must not flood the log; the metrics count every one."""

    def __init__(
        self,
        per_window: int = 10,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window = per_window
        self.window_s = window_s
        self.clock = clock
        self._opened = clock()
        self._logged: dict[str, int] = {}
        self._unlogged: dict[str, int] = {}

    def take(self, kind: str) -> tuple[bool, dict[str, int]]:
        """Whether to log this warning of `kind`; and the unlogged counts of past windows."""
        now = self.clock()
        unlogged: dict[str, int] = {}
        if now - self._opened >= self.window_s:
            unlogged, self._unlogged, self._logged, self._opened = self._unlogged, {}, {}, now
        logged = self._logged.get(kind, 0)
        if logged < self.per_window:
            self._logged[kind] = logged + 1
            return True, unlogged
        self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
        return False, unlogged


class InstanceRuntime:
    """The `Runtime` (`postwatch.connectors.base`) of one running connector instance: what
    each of its methods promises is written there."""

    def __init__(
        self,
        connector: Connector,
        sink: PostSink,
        store: CursorStore | None,
        *,
        backoff: Backoff,
    ) -> None:
        self.connector = connector
        self.metrics = InstanceMetrics(connector.source, connector.instance)
        self.stopping = asyncio.Event()
        self.log = log.bind(connector=connector.source, instance=connector.instance)
        self._sink = sink
        self._store = store
        self._backoff = backoff
        self._unacked = 0
        self._saved: Cursor | None = None
        self._quota = LogQuota()

    def event(self, source_time: datetime | None = None) -> None:
        lag = None if source_time is None else time.time() - source_time.timestamp()
        self.metrics.event(lag)

    async def emit(self, post: dict[str, Any]) -> InvalidPost | None:
        try:
            await self._sink.send(post)
        except InvalidPost as exc:
            self.skip(exc.reason, post_id=str(post.get("id")), error=exc.error)
            return exc
        self._unacked += 1
        return None

    async def delete(self, post_id: str) -> None:
        await self._sink.send_deletion(post_id, self.connector.source)
        self.metrics.deleted()

    def skip(self, reason: str, *, quiet: bool = False, **context: Any) -> None:
        self.metrics.skipped(reason)
        if quiet:
            self.log.debug("connector.skipped", reason=reason, **context)
            return
        logged, unlogged = self._quota.take(reason)
        if unlogged:
            self.log.warning("connector.skipped_unlogged", by_reason=unlogged)
        if logged:
            self.log.warning("connector.skipped", reason=reason, **context)

    async def flush(self) -> None:
        await self._sink.flush()
        self.metrics.produced(self._unacked)
        self._unacked = 0

    async def checkpoint(self) -> None:
        cursor = self.connector.snapshot()
        await self.flush()
        if self._store is None or cursor == self._saved:
            return
        await self._store.save(self.connector.source, self.connector.instance, cursor)
        self._saved = cursor
        self.metrics.checkpointed()

    async def retry_later(self, error: SourceUnavailable, attempt: int) -> None:
        delay = self._backoff.delay(attempt, error.retry_after)
        self.metrics.error(error.reason)
        self.metrics.reconnected()
        self.log.warning(
            "connector.reconnecting",
            reason=error.reason,
            error=str(error),
            attempt=attempt + 1,
            delay_s=round(delay, 3),
        )
        await self.sleep(delay)

    async def sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        if self.stopping.is_set():
            raise Stopped("stop requested")

    async def interruptible(self, awaitable: Awaitable[T]) -> T:
        if self.stopping.is_set():
            raise Stopped("stop requested")
        read = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if read.done():
            return read.result()
        read.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await read
        raise Stopped("stop requested")


async def run_connector(
    settings: Settings,
    connector: Connector,
    *,
    checkpoint_interval: float = 5.0,
    backoff: Backoff | None = None,
    metrics_port: int | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run `connector` until it ends, SIGTERM/SIGINT arrives or `stop` is set; then flush
    the producer and store the final cursor. Raises `ConnectorError` on faults it cannot
    retry (`SourceRejected`, `StateError`, `UnknownConnector`)."""
    check_registered(connector)
    if metrics_port:
        serve_metrics(metrics_port)
    await ensure_connector_topics(settings)
    async with PostSink(settings) as sink, CursorStore(settings) as store:
        cursor = await store.load(connector.instance)
        if cursor is not None:
            connector.restore(cursor)
        runtime = InstanceRuntime(connector, sink, store, backoff=backoff or Backoff())
        runtime.log.info("connector.started", resumed=cursor is not None)
        loop = asyncio.get_running_loop()
        handled = _on_signals(loop, runtime.stopping.set)
        watcher = asyncio.create_task(_relay(stop, runtime.stopping)) if stop else None
        checkpoints = asyncio.create_task(_checkpoints(runtime, checkpoint_interval))
        task = asyncio.create_task(connector.run(runtime))
        try:
            await _until_done(task, checkpoints, runtime.stopping)
        except SourceRejected:
            await runtime.checkpoint()  # what was produced before the refusal stays covered
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
            for sig in handled:
                loop.remove_signal_handler(sig)
        await runtime.checkpoint()
        runtime.log.info("connector.stopped", produced=sink.stats.produced)


async def _until_done(
    task: asyncio.Task[None], checkpoints: asyncio.Task[None], stopping: asyncio.Event
) -> None:
    """Wait for the connector to end or a stop; a failed checkpoint stops the connector."""
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({task, checkpoints, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if checkpoints.done():
        task.cancel()
    else:
        checkpoints.cancel()
    if not task.done():
        # reads give way at once; a send stuck on an unreachable broker does not
        done, _ = await asyncio.wait({task}, timeout=_STOP_GRACE_S)
        if not done:
            task.cancel()
    with contextlib.suppress(Stopped, asyncio.CancelledError):
        await task
    with contextlib.suppress(asyncio.CancelledError):
        await checkpoints  # raises the checkpoint's fault, if that is what ended the run


async def _checkpoints(runtime: InstanceRuntime, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await runtime.checkpoint()


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


def _on_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> list[int]:
    handled: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread (tests run connectors in-process) or no signals
        handled.append(sig)
    return handled
