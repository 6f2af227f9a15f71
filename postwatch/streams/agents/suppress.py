"""Repeat suppression with accounting: repeats of an alert collapse into it, and a summary
alert counts them when the window closes.

A repeat is a match of the same rule, on a post by the same author with the same content
fingerprint (`postwatch.rules.alerts.content_fingerprint`), within `window_s` seconds of
the first alert. The first alert goes out at once; each repeat is counted and its post id
kept (up to SUPPRESSED_IDS_MAX, the count goes on past that); when the window has passed,
one summary alert carries `suppressed_count` and the suppressed post ids. A window with no
repeat closes without a summary. Nothing is dropped without being counted.

Window state lives in a `WindowStore`; in the worker that is `ChangelogWindows`, whose
changelog is a compacted Kafka topic, so open windows survive a worker restart and move with
their partition. Its keys are hashes, so the changelog holds no author id in its keys.

Crash safety, with at-least-once delivery of the posts: a window is stored, and its first
alert sent, before the post's offset is committed, so a post redelivered after a crash
either finds its own window (if it is the window's first post its alert is sent again, same
id; if it is a counted repeat it is not counted twice) or opens it again. A summary is
acknowledged before its window is deleted, so a crash in between sends the summary again,
with the same id.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Container
from datetime import UTC, datetime
from typing import Protocol

import msgspec
import structlog

from postwatch.rules import Match
from postwatch.rules.alerts import SUPPRESSED_IDS_MAX, Alert, content_fingerprint

__all__ = ["Emit", "Flush", "Suppressor", "Window", "WindowStore", "suppression_key"]

log = structlog.get_logger(__name__)

Emit = Callable[[Alert], Awaitable[None]]
"""Send one alert; it is acknowledged once the matching `Flush` returns."""
Flush = Callable[[], Awaitable[None]]
"""Return once every alert and window change sent so far is acknowledged."""


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """An open suppression window: its `first` alert (sent), when it opened and closes
    (seconds since the epoch), the repeats counted into it and their post ids (at most
    SUPPRESSED_IDS_MAX), and the partition of the post that opened it."""

    first: Alert
    opened_at: float
    closes_at: float
    count: int = 0
    post_ids: tuple[str, ...] = ()
    partition: int


class WindowStore(Protocol):
    """Where open windows are kept, keyed by `suppression_key`."""

    def get(self, key: str) -> Window | None: ...

    async def put(self, key: str, window: Window) -> None:
        """Store a window (of the partition `window.partition`)."""

    async def delete(self, key: str, partition: int) -> None:
        """Forget a window of the given partition."""

    def items(self) -> list[tuple[str, Window]]: ...

    def __len__(self) -> int: ...


def suppression_key(match: Match) -> str:
    """Which alerts are repeats of each other: same rule, same author, same content."""
    parts = (match.rule.id, match.post.author.id, content_fingerprint(match.post))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


class Suppressor:
    """Decides, for each alert, whether it goes out or is counted into an open window."""

    def __init__(
        self,
        windows: WindowStore,
        window_s: float,
        emit: Emit,
        flush: Flush,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.windows = windows
        self.window_s = window_s
        self.emit = emit
        self.flush = flush
        self.clock = clock

    async def admit(self, match: Match, alert: Alert, partition: int) -> bool:
        """Send `alert` unless it repeats one whose window is open; True if it was sent,
        False if it was counted into the window instead. `partition` is that of the post."""
        key = suppression_key(match)
        now = self.clock()
        window = self.windows.get(key)
        if window is not None and now < window.closes_at:
            post_id = match.post.id
            if post_id == window.first.post.id:  # redelivered after a crash
                await self.emit(alert)
                return True
            if post_id not in window.post_ids:  # else a counted repeat, redelivered
                ids = window.post_ids
                await self.windows.put(
                    key,
                    msgspec.structs.replace(
                        window,
                        count=window.count + 1,
                        post_ids=(*ids, post_id) if len(ids) < SUPPRESSED_IDS_MAX else ids,
                    ),
                )
            log.debug("alert.suppressed", alert_id=window.first.alert_id)
            return False
        if window is not None and await self._summarise(window, now):
            await self.flush()  # the summary is acknowledged before its window is replaced
        await self.windows.put(
            key,
            Window(first=alert, opened_at=now, closes_at=now + self.window_s, partition=partition),
        )
        await self.emit(alert)
        return True

    async def sweep(self, partitions: Container[int]) -> int:
        """Close every window that has passed, among those of the given partitions (the ones
        this worker owns); returns how many summaries were sent."""
        now = self.clock()
        closed = [
            (key, window)
            for key, window in self.windows.items()
            if window.closes_at <= now and window.partition in partitions
        ]
        sent = 0
        for _, window in closed:
            sent += await self._summarise(window, now)
        await self.flush()  # summaries acknowledged before their windows are deleted
        for key, window in closed:
            await self.windows.delete(key, window.partition)
        return sent

    async def _summarise(self, window: Window, now: float) -> int:
        if window.count == 0:
            return 0
        await self.emit(
            window.first.summary(
                suppressed_count=window.count,
                suppressed_post_ids=window.post_ids,
                window_start=datetime.fromtimestamp(window.opened_at, UTC),
                window_end=datetime.fromtimestamp(min(now, window.closes_at), UTC),
            )
        )
        return 1
