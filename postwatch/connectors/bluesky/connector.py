"""The Bluesky connector: Jetstream, resumed from its time cursor without gaps or repeats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from postwatch.connectors.base import (
    Cursor,
    MalformedEvent,
    Runtime,
    SourceRejected,
    SourceUnavailable,
)
from postwatch.connectors.bluesky.adapter import (
    CDN,
    POST_COLLECTION,
    event_time,
    post_id,
    record_to_post,
    record_uri,
)
from postwatch.connectors.bluesky.client import subscribe_url
from postwatch.connectors.http import retry_after
from postwatch.connectors.options import BadOption, Given, option

__all__ = ["BlueskyConnector"]

_TOO_MANY_REQUESTS = 429
REMEMBER = 50_000
"""Record keys kept to drop what a rewound replay repeats."""
OPEN_TIMEOUT = 30.0
"""Seconds the WebSocket handshake may take."""
REWIND = 5.0
"""Seconds the cursor is rewound on every (re)connection, unless told otherwise: events do
not arrive in strict time order."""


@dataclass(frozen=True, kw_only=True)
class BlueskyOptions:
    """Follow Bluesky posts through Jetstream."""

    url: str = option(
        "Jetstream subscribe URL, e.g. wss://jetstream2.us-east.bsky.network/subscribe"
    )
    did: tuple[str, ...] = option("Follow only this account (repeatable).", default=())
    rewind: float = option(
        "Seconds the cursor is rewound on every (re)connection.", default=REWIND, minimum=0
    )
    image_cdn: str | None = option(
        "Base URL of full-size images (default: Bluesky's CDN).", default=None
    )


class BlueskyConnector:
    """Reads `app.bsky.feed.post` commits from a Jetstream instance and produces the posts.

    Creates (and updates) become posts, deletes become deletion notices; other collections
    and identity/account events are counted and left alone. With `dids`, only those
    accounts are asked for (`wantedDids`) and anything else that arrives is dropped.

    The cursor is the newest `time_us` seen. Every (re)connection asks Jetstream to replay
    from `rewind_seconds` before it, because events do not arrive in strict time order;
    what the replay repeats is dropped by record URI and CID, and those keys are part of
    the cursor so that a restart repeats nothing either.
    """

    source: ClassVar[str] = "bluesky"
    options: ClassVar[type[BlueskyOptions]] = BlueskyOptions

    def __init__(
        self,
        url: str,
        *,
        dids: Sequence[str] = (),
        instance: str | None = None,
        rewind_seconds: float = REWIND,
        image_cdn: str = CDN,
    ) -> None:
        self.url = url
        self.dids = tuple(dids)
        self.instance = instance or f"{self.source}:{urlsplit(url).hostname or url}"
        self._rewind_us = int(rewind_seconds * 1_000_000)
        self._cdn = image_cdn.rstrip("/")
        self._wanted = frozenset(self.dids)
        self._cursor_us: int | None = None
        self._seen: dict[str, int] = {}

    @classmethod
    def from_options(cls, given: Given[BlueskyOptions]) -> BlueskyConnector:
        options = given.options
        bad = [did for did in options.did if not did.startswith("did:")]
        if bad:
            raise BadOption("--did", f"not a DID: {', '.join(bad)}")
        return cls(
            options.url,
            dids=options.did,
            instance=given.instance,
            rewind_seconds=options.rewind,
            image_cdn=options.image_cdn or CDN,
        )

    def restore(self, cursor: Cursor) -> None:
        self._cursor_us = cursor.get("time_us")
        self._seen = {str(key): int(t) for key, t in cursor.get("seen", ())}

    def snapshot(self) -> Cursor:
        # only what a rewound replay can repeat needs remembering across a restart
        horizon = (self._cursor_us or 0) - 2 * self._rewind_us
        return {
            "time_us": self._cursor_us,
            "seen": [[key, t] for key, t in self._seen.items() if t >= horizon],
        }

    async def run(self, runtime: Runtime) -> None:
        attempt = 0
        while True:
            start = None if self._cursor_us is None else self._cursor_us - self._rewind_us
            url = subscribe_url(self.url, [POST_COLLECTION], self.dids, start)
            try:
                async with connect(
                    url, proxy=None, open_timeout=OPEN_TIMEOUT, max_size=2**22
                ) as websocket:
                    runtime.log.info("bluesky.connected", cursor=start, dids=len(self.dids))
                    attempt = 0
                    await self._read(websocket, runtime)
            except InvalidURI as exc:
                raise SourceRejected(f"not a websocket URL: {self.url}") from exc
            except InvalidStatus as exc:
                error = _status_error(exc)
            except ConnectionClosed as exc:
                error = SourceUnavailable(f"connection closed: {exc}", reason="disconnected")
            except (OSError, TimeoutError, WebSocketException) as exc:
                error = SourceUnavailable(f"connection: {exc!r}", reason="disconnected")
            await runtime.retry_later(error, attempt)
            attempt += 1

    async def _read(self, websocket: ClientConnection, runtime: Runtime) -> None:
        while True:
            message = await runtime.interruptible(websocket.recv())
            try:
                await self._on_message(message, runtime)
            except MalformedEvent as exc:
                runtime.skip(exc.reason, error=exc.detail)

    async def _on_message(self, message: str | bytes, runtime: Runtime) -> None:
        try:
            event = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            runtime.event()
            raise MalformedEvent("not_json", str(exc)) from exc
        if not isinstance(event, dict):
            runtime.event()
            raise MalformedEvent("bad_event", "an event is a JSON object")
        seen_at = event_time(event)
        runtime.event(seen_at)
        commit = event.get("commit")
        did = event.get("did")
        if event.get("kind") != "commit" or not isinstance(commit, dict):
            runtime.skip("not_a_post", quiet=True, kind=_shown(event.get("kind")))
        elif commit.get("collection") != POST_COLLECTION:
            runtime.skip("not_a_post", quiet=True, collection=_shown(commit.get("collection")))
        elif not isinstance(did, str) or not isinstance(commit.get("rkey"), str):
            raise MalformedEvent("bad_event", "a commit names its did and rkey")
        elif self._wanted and did not in self._wanted:
            runtime.skip("unwanted_did", quiet=True)
        else:
            await self._on_commit(did, commit, seen_at, runtime)
        time_us = event["time_us"]
        if self._cursor_us is None or time_us > self._cursor_us:
            self._cursor_us = time_us

    async def _on_commit(
        self, did: str, commit: dict[str, Any], seen_at: datetime, runtime: Runtime
    ) -> None:
        uri = record_uri(did, POST_COLLECTION, commit["rkey"])
        operation = commit.get("operation")
        time_us = int(seen_at.timestamp() * 1_000_000)
        if operation == "delete":
            key = f"delete:{uri}"
            if key in self._seen:
                runtime.skip("duplicate", quiet=True, post_id=post_id(uri))
                return
            await runtime.delete(post_id(uri))
            self._remember_key(key, time_us)
            return
        if operation not in ("create", "update"):
            raise MalformedEvent("bad_event", f"unknown operation {_shown(operation)}")
        cid = commit.get("cid")
        key = f"{uri}#{cid if isinstance(cid, str) else ''}"
        if key in self._seen:
            runtime.skip("duplicate", quiet=True, post_id=post_id(uri))
            return
        post = record_to_post(did, commit["rkey"], commit.get("record"), seen_at, self._cdn)
        if await runtime.emit(post) is None:
            self._remember_key(key, time_us)

    def _remember_key(self, key: str, time_us: int) -> None:
        self._seen[key] = time_us
        while len(self._seen) > REMEMBER:
            del self._seen[next(iter(self._seen))]


def _shown(value: Any) -> str:
    """A value from an event, for a log: a string cut short, else only its type (printing
    a value nested a thousand levels deep raises `RecursionError`)."""
    return repr(value[:80]) if isinstance(value, str) else f"a {type(value).__name__}"


def _status_error(exc: InvalidStatus) -> SourceUnavailable:
    """The retryable error for a refused handshake (429, 5xx); raises `SourceRejected` for
    the others."""
    status = exc.response.status_code
    if status == _TOO_MANY_REQUESTS or status >= 500:
        return SourceUnavailable(
            f"handshake: HTTP {status}",
            reason="rate_limited" if status == _TOO_MANY_REQUESTS else f"http_{status}",
            retry_after=retry_after(exc.response.headers.get("Retry-After")),
        )
    raise SourceRejected(f"handshake: HTTP {status}") from exc
