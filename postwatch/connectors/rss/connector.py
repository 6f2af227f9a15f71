"""The RSS/Atom connector: polls feeds with conditional GET and produces their new entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp

from postwatch.connectors.base import (
    Cursor,
    RecentKeys,
    Runtime,
    SourceRejected,
    SourceUnavailable,
)
from postwatch.connectors.http import check_status, read_bounded, session
from postwatch.connectors.options import BadOption, Given, option
from postwatch.connectors.polling import follow_all, interval_option, keep_polling
from postwatch.connectors.rss.feeds import Feed, FeedListError, feeds_from
from postwatch.connectors.rss.reading import FeedUnreadable, ReadFeed, ReadLimits, read_in_child

__all__ = ["RssConnector"]

_NOT_MODIFIED = 304
REMEMBER = 1000
"""Entry keys kept per feed to drop what a poll repeats."""
TIMEOUT = 30.0
"""Seconds one fetch of a feed may take."""
MAX_BYTES = 16 * 1024 * 1024
"""The largest feed document read; a larger one is a failed poll."""


@dataclass(frozen=True, kw_only=True)
class RssOptions:
    """Poll RSS and Atom feeds."""

    feeds: tuple[str, ...] = option(
        "A feed URL, or a file listing feeds (OPML, or one URL per line); repeatable."
    )
    interval: float = interval_option(
        "Seconds between polls of a feed whose list gives no interval of its own."
    )


class RssConnector:
    """Polls each feed on its own interval, concurrently; a feed that fails (unreachable,
    HTTP error, not a feed) is logged, counted and retried with backoff, and never holds up
    the others.

    Each poll is a conditional GET (`If-None-Match` / `If-Modified-Since` from the last
    answer), so an unchanged feed costs one 304. Entries are told apart by id, else link,
    else a digest of their text; the cursor keeps, per feed, the validators and the keys of
    the latest entries produced, so a restart produces only what is new.

    A feed is read (parsed, its entries mapped) in a child process of its own, which may
    take `read_seconds` and 1 GiB (`reading.ReadLimits`): a feed that takes more is that
    feed's failure, logged and counted as rejected, and that version of it (by its
    validators) is not read again.
    """

    source: ClassVar[str] = "rss"
    options: ClassVar[type[RssOptions]] = RssOptions

    def __init__(
        self,
        feeds: Sequence[Feed],
        *,
        instance: str = "rss",
        read_seconds: float = 60.0,
    ) -> None:
        self.feeds = tuple(feeds)
        self.instance = instance
        self._timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        self._limits = ReadLimits(seconds=read_seconds)
        self._state: dict[str, _FeedState] = {f.url: _FeedState() for f in self.feeds}

    @classmethod
    def from_options(cls, given: Given[RssOptions]) -> RssConnector:
        try:
            feeds = feeds_from(given.options.feeds, given.options.interval)
        except FeedListError as exc:
            raise BadOption("--feeds", str(exc)) from exc
        if not feeds:
            raise BadOption("--feeds", "no feeds in the lists given")
        return cls(feeds, instance=given.instance or cls.source)

    def restore(self, cursor: Cursor) -> None:
        for url, saved in (cursor.get("feeds") or {}).items():
            if url in self._state:
                self._state[url] = _FeedState(
                    saved.get("etag"), saved.get("modified"), saved.get("seen", ())
                )

    def snapshot(self) -> Cursor:
        return {"feeds": {url: state.saved() for url, state in self._state.items()}}

    async def run(self, runtime: Runtime) -> None:
        async with session("postwatch", timeout=self._timeout) as http:
            await follow_all(self.feeds, lambda feed: self._follow(feed, http, runtime))

    async def _follow(self, feed: Feed, http: aiohttp.ClientSession, runtime: Runtime) -> None:
        await keep_polling(
            runtime,
            lambda: self._poll(feed, http, runtime),
            lambda: feed.interval,
            name=feed.url,
            rejected="rss.feed_rejected",
            feed=feed.url,
        )

    async def _poll(self, feed: Feed, http: aiohttp.ClientSession, runtime: Runtime) -> None:
        state = self._state[feed.url]
        headers = state.conditions()
        async with http.get(feed.url, headers=headers) as response:
            check_status(response, feed.url)
            if response.status == _NOT_MODIFIED:
                runtime.log.debug("rss.not_modified", feed=feed.url)
                return
            body = await read_bounded(response, feed.url, MAX_BYTES)
            validators = (response.headers.get("ETag"), response.headers.get("Last-Modified"))
            context = {
                "content-type": response.headers.get("Content-Type", ""),
                "content-location": str(response.url),
            }
        try:
            read = await read_in_child(body, context, feed.url, datetime.now(UTC), self._limits)
        except FeedUnreadable as exc:
            # this version of the feed is not read again: a 304 until it changes
            state.etag, state.modified = validators
            raise SourceRejected(f"{feed.url}: {exc.reason}: {exc}") from exc
        if read.not_a_feed is not None:
            raise SourceUnavailable(
                f"{feed.url}: not a feed: {read.not_a_feed}", reason="not_a_feed"
            )
        await self._produce(feed, read, state, runtime)
        state.etag, state.modified = validators

    async def _produce(
        self, feed: Feed, read: ReadFeed, state: _FeedState, runtime: Runtime
    ) -> None:
        # oldest first, as feeds list newest first
        for entry in reversed(read.entries):
            if entry.key in state.seen:
                runtime.event()
                runtime.skip("duplicate", quiet=True, feed=feed.url)
            elif entry.post is None:
                runtime.event()
                runtime.skip(entry.reason or "bad_entry", feed=feed.url, error=entry.detail)
            else:
                runtime.event(datetime.fromisoformat(entry.post["created_at"]))
                if await runtime.emit(entry.post) is None:
                    state.seen.add(entry.key)


class _FeedState:
    def __init__(
        self,
        etag: str | None = None,
        modified: str | None = None,
        seen: Sequence[str] = (),
    ) -> None:
        self.etag = etag
        self.modified = modified
        self.seen = RecentKeys(REMEMBER, seen)

    def conditions(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.modified:
            headers["If-Modified-Since"] = self.modified
        return headers

    def saved(self) -> dict[str, Any]:
        return {"etag": self.etag, "modified": self.modified, "seen": self.seen.keys()}
