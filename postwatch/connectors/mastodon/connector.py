"""The Mastodon connector: one stream of one server, resumed without gaps or repeats."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import orjson
from yarl import URL

from postwatch.connectors.base import (
    Cursor,
    MalformedEvent,
    RecentKeys,
    Runtime,
    SourceUnavailable,
    parse_time,
)
from postwatch.connectors.http import check_status, read_bounded
from postwatch.connectors.mastodon.adapter import fingerprint, post_id, status_id, status_to_post
from postwatch.connectors.mastodon.client import SseDecoder, SseEvent, StreamSpec, id_after, rewound
from postwatch.connectors.options import BadOption, Given, option
from postwatch.connectors.streaming import keep_streaming

__all__ = ["MastodonConnector"]

_POST_EVENTS = frozenset({"update", "status.update"})
REMEMBER = 2000
"""Status ids (and edit times) kept to drop what a backfill or a reconnection repeats."""
READ_TIMEOUT = 90.0
"""Seconds without a byte (the server sends `:thump` lines to keep it open) before the stream
is taken as dropped."""
MAX_BACKFILL_PAGES = 25
"""Timeline pages a backfill reads at the most after a reconnection."""
REWIND = 300.0
"""Seconds before the newest status seen that a backfill starts from, unless told otherwise."""


@dataclass(frozen=True, kw_only=True)
class MastodonOptions:
    """Follow a Mastodon streaming timeline."""

    url: str = option("The server, e.g. https://mastodon.social")
    stream: str = option("public, public:local, hashtag:TAG or list:ID.", default="public")
    token: str | None = option(
        "Access token (needed for lists and some servers)",
        default=None,
        envvar="POSTWATCH_MASTODON_TOKEN",
        secret=True,
    )
    streaming_url: str | None = option(
        "Base URL of the streaming server when it is not --url.", default=None
    )
    domain: str | None = option(
        "Domain in post and author ids (default: the host of --url).", default=None
    )
    rewind: float = option(
        "Seconds before the newest status seen that a backfill starts from.",
        default=REWIND,
        minimum=0,
    )


class MastodonConnector:
    """Reads a Mastodon streaming timeline (server-sent events) and produces its statuses.

    `update` and `status.update` events become posts (an edit is produced again under the
    same id, with the new text and `edited_at`); `delete` becomes a deletion notice. After
    every reconnect, and at start when resuming, the statuses published meanwhile are
    fetched from the REST timeline (`since_id` a few minutes before the newest status seen,
    following `Link` pagination) and whatever was already produced is dropped.

    The cursor holds the newest status id seen and the fingerprints of the last statuses
    produced, so a restart neither misses nor repeats them.
    """

    source: ClassVar[str] = "mastodon"
    options: ClassVar[type[MastodonOptions]] = MastodonOptions

    def __init__(
        self,
        url: str,
        stream: StreamSpec,
        *,
        token: str | None = None,
        streaming_url: str | None = None,
        domain: str | None = None,
        instance: str | None = None,
        rewind_seconds: float = REWIND,
        page_limit: int = 40,
    ) -> None:
        self.url = url.rstrip("/")
        self.stream = stream
        self.streaming_url = (streaming_url or url).rstrip("/")
        self.domain = domain or (urlsplit(url).hostname or url)
        self.instance = instance or f"{self.source}:{self.domain}:{stream}"
        self._token = token
        self._rewind = rewind_seconds
        self._page_limit = page_limit
        self._timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=READ_TIMEOUT)
        self._since: str | None = None
        self._seen = RecentKeys(REMEMBER)

    @classmethod
    def from_options(cls, given: Given[MastodonOptions]) -> MastodonConnector:
        options = given.options
        try:
            stream = StreamSpec.parse(options.stream)
        except ValueError as exc:
            raise BadOption("--stream", str(exc)) from exc
        return cls(
            options.url,
            stream,
            token=options.token,
            streaming_url=options.streaming_url,
            domain=options.domain,
            instance=given.instance,
            rewind_seconds=options.rewind,
        )

    def restore(self, cursor: Cursor) -> None:
        self._since = cursor.get("since_id")
        self._seen = RecentKeys(REMEMBER, cursor.get("seen", ()))

    def snapshot(self) -> Cursor:
        return {"since_id": self._since, "seen": self._seen.keys()}

    async def run(self, runtime: Runtime) -> None:
        await keep_streaming(
            runtime, self._timeout, lambda http: self._connect(http, runtime), self._read
        )

    @contextlib.asynccontextmanager
    async def _connect(
        self, http: aiohttp.ClientSession, runtime: Runtime
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The open stream, once what was published since the cursor is backfilled."""
        headers = {"Accept": "text/event-stream"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        path, query = self.stream.streaming()
        async with http.get(self.streaming_url + path, params=query, headers=headers) as response:
            check_status(response, "streaming")
            runtime.log.info("mastodon.connected", stream=str(self.stream))
            if self._since is not None:
                await self._backfill(http, runtime, self._since)
            yield response

    async def _read(self, response: aiohttp.ClientResponse, runtime: Runtime) -> None:
        decoder = SseDecoder()
        while True:
            chunk = await runtime.interruptible(response.content.readany())
            if not chunk:
                return
            for event in decoder.feed(chunk):
                await self._on_event(event, runtime)

    async def _on_event(self, event: SseEvent, runtime: Runtime) -> None:
        if event.event in _POST_EVENTS:
            try:
                status = orjson.loads(event.data)
            except orjson.JSONDecodeError as exc:
                runtime.event()
                runtime.skip("not_json", event_type=event.event, error=str(exc))
                return
            await self._on_status(status, runtime)
        elif event.event == "delete":
            runtime.event()
            await self._on_delete(event.data.strip(), runtime)
        elif event.event == "":
            runtime.event()
            runtime.skip("too_long", error=event.data)
        else:
            runtime.event()
            runtime.skip("not_a_post", quiet=True, event_type=event.event)

    async def _on_status(self, status: Any, runtime: Runtime) -> None:
        try:
            post = status_to_post(status, self.domain)
        except MalformedEvent as exc:
            runtime.event()
            runtime.skip(exc.reason, error=exc.detail)
            return
        runtime.event(parse_time(post.get("edited_at") or post["created_at"]))
        key = fingerprint(status)
        if key in self._seen:
            runtime.skip("duplicate", quiet=True, post_id=post["id"])
            return
        if await runtime.emit(post) is None:
            self._seen.add(key)
            native = status_id(status)
            if native is not None and (self._since is None or id_after(native, self._since)):
                self._since = native

    async def _on_delete(self, native: str, runtime: Runtime) -> None:
        if not native or not native.isalnum():
            runtime.skip("bad_delete", error=f"not a status id: {native[:40]!r}")
            return
        key = f"delete:{native}"
        if key in self._seen:
            runtime.skip("duplicate", quiet=True, post_id=post_id(self.domain, native))
            return
        await runtime.delete(post_id(self.domain, native))
        self._seen.add(key)

    async def _backfill(
        self, http: aiohttp.ClientSession, runtime: Runtime, newest_seen: str
    ) -> None:
        """Produce the statuses the stream missed: newer than the rewound cursor, oldest first."""
        since = rewound(newest_seen, self._rewind)
        path, query = self.stream.timeline()
        url: URL | None = URL(self.url + path).update_query(
            {**query, "since_id": since, "limit": str(self._page_limit)}
        )
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        found: list[tuple[str, Any]] = []
        for _ in range(MAX_BACKFILL_PAGES):
            if url is None:
                break
            async with http.get(url, headers=headers) as response:
                check_status(response, "timeline")
                try:
                    page = orjson.loads(await read_bounded(response, "timeline"))
                except orjson.JSONDecodeError as exc:
                    raise SourceUnavailable(
                        f"timeline: not JSON: {exc}", reason="bad_response"
                    ) from exc
                next_url = _next_page(response, runtime)
            if not isinstance(page, list) or not page:
                break
            ids = [(status_id(s) if isinstance(s, dict) else None, s) for s in page]
            newer = [(native, s) for native, s in ids if native and id_after(native, since)]
            found.extend(newer)
            if len(newer) < len(page):
                break  # reached statuses the cursor already covers (or ones without an id)
            url = next_url
        found.sort(key=lambda pair: (len(pair[0]), pair[0]))
        runtime.log.info("mastodon.backfilled", since_id=since, statuses=len(found))
        for _, status in found:
            await self._on_status(status, runtime)


def _next_page(response: aiohttp.ClientResponse, runtime: Runtime) -> URL | None:
    """The `rel="next"` URL of the `Link` header, resolved against the page's own; None (and
    a warning) for a header that is no list of URLs, or that names another origin (scheme,
    host and port) than the page's: the next request carries the access token."""
    try:
        link = response.links.get("next")
    except ValueError as exc:  # a malformed URL in the header
        runtime.log.warning("mastodon.bad_link_header", error=str(exc))
        return None
    if not link:
        return None
    page = response.url
    try:
        url = page.join(URL(str(link["url"])))
        same = (url.scheme, url.host, url.port) == (page.scheme, page.host, page.port)
    except ValueError as exc:
        runtime.log.warning("mastodon.bad_link_header", error=str(exc))
        return None
    if not same:
        runtime.log.warning("mastodon.link_to_another_origin", origin=page.origin().human_repr())
        return None
    return url
