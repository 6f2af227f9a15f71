"""Reading a downloaded feed into posts, in a child process with a time and memory limit.

feedparser is pure Python and its time grows with the square of some inputs (312 KiB of
`<!--` took 8 s; a feed at the byte cap would take hours), so a feed is parsed, and its
entries mapped to posts, in a child process forked from a server that has the modules
loaded already: a feed that takes longer than allowed costs its child process, never the
connector or the other feeds, which are read in processes of their own at the same time.

    >>> read = await read_in_child(body, {"content-type": "application/rss+xml"},
    ...                            "https://example.org/feed.xml", datetime.now(UTC),
    ...                            limits=ReadLimits(seconds=30))     # doctest: +SKIP
    >>> [entry.post["id"] for entry in read.entries if entry.post]    # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import feedparser

from postwatch.connectors.base import MalformedEvent
from postwatch.connectors.rss.adapter import entry_key, entry_to_post

__all__ = ["FeedEntry", "FeedUnreadable", "ReadFeed", "ReadLimits", "read_feed", "read_in_child"]

_CONTEXT = multiprocessing.get_context("forkserver")  # no fork of a threaded event loop
_CONTEXT.set_forkserver_preload([__name__])


class FeedUnreadable(Exception):
    """The feed could not be read within the limits: `reason` is `parse_timeout` or
    `parser_crashed`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReadLimits:
    seconds: float = 30.0
    """Longest time one feed may take to parse and map."""
    memory_bytes: int = 1 << 30
    """Address space the child process may use (RLIMIT_AS)."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry, in the feed's order: its key, and its post or why there is none."""

    key: str
    post: dict[str, Any] | None
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ReadFeed:
    entries: tuple[FeedEntry, ...]
    """Newest first, as feeds list them."""
    not_a_feed: str | None
    """Why the body is no feed at all (nothing in it reads as RSS or Atom), else None."""


def read_feed(body: bytes, headers: dict[str, str], url: str, first_seen: datetime) -> ReadFeed:
    """Parse the feed at `url` and map its entries (this process, no limits: see
    `read_in_child`); an entry that is no post is kept with the reason."""
    try:
        parsed = feedparser.parse(body, response_headers=headers)
    except ValueError as exc:  # feedparser decoding the bytes (a NUL where it reads an encoding)
        return ReadFeed((), f"{exc!s:.200}")
    if parsed.bozo and not parsed.entries and not parsed.version:
        return ReadFeed((), f"{parsed.get('bozo_exception')!s:.200}")
    entries = []
    for entry in parsed.entries:
        key = entry_key(entry)
        try:
            entries.append(FeedEntry(key, entry_to_post(entry, url, parsed.feed, key, first_seen)))
        except MalformedEvent as exc:
            entries.append(FeedEntry(key, None, exc.reason, exc.detail))
    return ReadFeed(tuple(entries), None)


async def read_in_child(
    body: bytes, headers: dict[str, str], url: str, first_seen: datetime, limits: ReadLimits
) -> ReadFeed:
    """`read_feed` in a child process within `limits`; raises `FeedUnreadable` when the
    child takes too long (it is killed) or dies."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=_child,
        args=(sender, limits.memory_bytes, (body, headers, url, first_seen)),
        daemon=True,
        name="postwatch-feed-reader",
    )
    starting = asyncio.ensure_future(asyncio.to_thread(child.start))
    try:
        await asyncio.shield(starting)
        sender.close()
        if not await _readable(receiver, limits.seconds):
            raise FeedUnreadable("parse_timeout", f"not read within {limits.seconds:g} s")
        try:
            answer = await asyncio.to_thread(receiver.recv)
        except (EOFError, OSError) as exc:
            raise FeedUnreadable("parser_crashed", "the reading process died") from exc
    finally:
        # told to stop while the child was starting: its start goes on in its thread, and
        # the child is killed and reaped once it has started (or failed to)
        await asyncio.wait([starting])
        sender.close()
        receiver.close()
        if starting.exception() is None:
            if child.is_alive():
                child.kill()
            await asyncio.to_thread(child.join)
    if isinstance(answer, ReadFeed):
        return answer
    raise FeedUnreadable("parser_crashed", str(answer))


def _child(
    sender: Connection, memory_bytes: int, job: tuple[bytes, dict[str, str], str, datetime]
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        answer: ReadFeed | str = read_feed(*job)
    except BaseException as exc:  # whatever the feed does to the parser is told, not raised
        answer = f"{type(exc).__name__}: {exc!s:.200}"
    with contextlib.suppress(BrokenPipeError, MemoryError):  # then the parent sees it die
        sender.send(answer)
    sender.close()


async def _readable(connection: Connection, seconds: float) -> bool:
    """Whether something (an answer, or the end of a child that died) arrives in time."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not arrived.done():
            arrived.set_result(None)

    loop.add_reader(connection.fileno(), ready)
    try:
        await asyncio.wait_for(arrived, seconds)
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(connection.fileno())
    return True
