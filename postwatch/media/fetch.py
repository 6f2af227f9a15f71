"""The media fetcher connectors use: download a post's media and fill its hashes.

    >>> from postwatch.media.fetch import FetchOptions, MediaFetcher
    >>> async def produce(posts, sink):                              # doctest: +SKIP
    ...     async with MediaFetcher(FetchOptions(max_bytes=8 << 20)) as fetcher:
    ...         for post in posts:
    ...             await sink.send(await fetcher.enrich(post))
    ...     print(fetcher.stats)

`enrich` takes a Post v1 dict and returns a copy in which each `media[i]` with an http(s)
`url`, of a kind being fetched and not hashed yet, has `sha256`, `md5` and (images) `pdq`,
`pdq_quality`, `pdq_mirror`, `features`, `features_mirror` and the `text` read in it filled
(videos, with `video` in `kinds` and vpdq installed: their keyframes' PDQ in `frames`);
an item that could not be fetched or hashed gets the reason in `error` instead. A URL a post
names twice is fetched once; past `max_media` URLs a post's media are not fetched (counted
in `stats.skipped` as `too_many` and logged), and a post gets `post_timeout` seconds in all
(then what is left is counted as failed, `post_timeout`). A download holds its slot (one of
`concurrency`) until it is hashed, so the bytes waiting for a hashing process are never more
than `concurrency` downloads. A download is refused, before its body is read where possible,
when the server answers with another status than 200 after at most `max_redirects`
redirects, a content type that is not one of the media types of those kinds, a size over
`max_bytes`, or bytes whose magic number is not such a format; and when it takes longer than
`timeout`. Unless `allow_private_addresses` is set, URLs that lead (directly, by DNS or by
redirect) to loopback, private or otherwise non-global addresses are refused, IPv6 addresses
that carry an IPv4 one (IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`)
included, so a post cannot make the fetcher probe the network it runs in. Every failure is
counted in `stats.failed` under its reason and logged; the post comes back with that item
unhashed. Nothing a post or a server does makes `enrich` raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
import structlog
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from postwatch.media.errors import FetchError, MediaError, TooLarge
from postwatch.media.hashing import FORMATS, HashOptions, MediaHashes, keyframes, sniff
from postwatch.media.worker import Hasher

__all__ = ["FetchOptions", "FetchStats", "MediaFetcher", "is_public_address"]

log = structlog.get_logger("postwatch.media.fetch")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How media is downloaded and hashed; the defaults suit images from social media."""

    max_bytes: int = 16 * 1024 * 1024
    """Largest body read; a larger one (by Content-Length or as it streams) is refused."""
    timeout: float = 15.0
    """Seconds for one download, redirects included (hashing has its own limit)."""
    max_redirects: int = 3
    concurrency: int = 4
    """Downloads in flight or waiting to be hashed at once, over all posts."""
    max_media: int = 16
    """Different URLs fetched for one post; the platforms attach at most 4 (X, Bluesky,
    Mastodon) or 10 (a Telegram album)."""
    post_timeout: float = 60.0
    """Seconds all the media of one post may take, hashing included (a hash already
    running when they are up is waited for: it holds its download's bytes)."""
    hash_processes: int = 1
    """Child processes that decode and hash (see `postwatch.media.worker.Hasher`)."""
    kinds: frozenset[str] = frozenset({"image"})
    """Post v1 media kinds fetched (`image`, `video`); items without a kind are tried too."""
    allow_private_addresses: bool = False
    """Fetch from loopback and private networks too (tests and closed deployments)."""
    user_agent: str = "postwatch-media-fetcher"
    hash_options: HashOptions = field(default_factory=HashOptions)


@dataclass
class FetchStats:
    """Counters of media items since the fetcher started, by a stable reason code:
    `skipped` are the items not fetched (`not_wanted`: no http(s) URL, a kind not fetched
    or hashed already; `same_url`: a URL the post named before, given its hashes;
    `too_many`: past `max_media`), `failed` the ones whose fetch failed."""

    fetched: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)


class _BlockedAddress(OSError):
    """A host name resolved only to addresses the fetcher must not connect to."""


class _PublicResolver(AbstractResolver):
    """Resolves with the default resolver and keeps only global addresses."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = [
            r for r in await self._inner.resolve(host, port, family) if is_public_address(r["host"])
        ]
        if not results:
            raise _BlockedAddress(f"{host} resolves to no public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


_EMBEDDING = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",  # IPv4-compatible (deprecated): ::7f00:1 is 127.0.0.1
        "64:ff9b::/96",  # NAT64: the gateway connects to the IPv4 address in the last bits
        "64:ff9b:1::/48",  # NAT64 for local use
        "fec0::/10",  # site-local (deprecated): Python still calls it global
    )
)


def is_public_address(address: str) -> bool:
    """Whether the fetcher may connect to `address` (an IP address as text): a global one,
    and not one of the IPv6 ranges that carry an IPv4 address to a translator (Python calls
    them global); an IPv4-mapped or 6to4 address is judged by the IPv4 address it holds."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _EMBEDDING):
            return False
        carried = ip.ipv4_mapped or ip.sixtofour
        if carried is not None:
            return carried.is_global
    return ip.is_global


class MediaFetcher:
    """Downloads and hashes post media; use as `async with MediaFetcher(options) as f:`."""

    def __init__(self, options: FetchOptions | None = None) -> None:
        self.options = options or FetchOptions()
        self.stats = FetchStats()
        self._mime_types = frozenset(
            mime for fmt in FORMATS if fmt.kind in self.options.kinds for mime in fmt.mime_types
        )
        self._limit = asyncio.Semaphore(self.options.concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._hasher: Hasher | None = None

    async def __aenter__(self) -> MediaFetcher:
        """Raises `OcrUnavailable` when text in images is asked for and cannot be read."""
        self._hasher = Hasher(self.options.hash_options, processes=self.options.hash_processes)
        resolver: AbstractResolver = (
            DefaultResolver() if self.options.allow_private_addresses else _PublicResolver()
        )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=resolver, limit=self.options.concurrency),
            headers={"User-Agent": self.options.user_agent},
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._hasher is not None:
            await asyncio.to_thread(self._hasher.close)

    async def enrich(self, post: dict[str, Any]) -> dict[str, Any]:
        """A copy of the post with its media hashed where that could be done (the post
        itself when it has no media)."""
        media = post.get("media")
        if not isinstance(media, list) or not media:
            return post
        items = [dict(m) if isinstance(m, dict) else m for m in media]
        by_url: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, item in enumerate(items):
            if not self._wanted(item):
                self.stats.skipped["not_wanted"] += 1
                continue
            if item["url"] in by_url:
                self.stats.skipped["same_url"] += 1
            by_url.setdefault(item["url"], []).append((index, item))
        urls = list(by_url)[: self.options.max_media]
        if len(by_url) > len(urls):
            self.stats.skipped["too_many"] += len(by_url) - len(urls)
            log.warning(
                "media not fetched",
                reason="too_many",
                post=post.get("id"),
                urls=len(by_url) - len(urls),
                max_media=self.options.max_media,
            )
        fetches = {url: asyncio.create_task(self._hashes(url)) for url in urls}
        if fetches:
            _, late = await asyncio.wait(fetches.values(), timeout=self.options.post_timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)  # each holds its slot until its hashing is over
        for url, task in fetches.items():
            self._record(post.get("id"), by_url[url], task)
        return {**post, "media": items}

    def _wanted(self, item: Any) -> bool:
        if not isinstance(item, dict):
            return False
        url = item.get("url")
        kind = item.get("kind")
        return (
            isinstance(url, str)
            and url.lower().startswith(("http://", "https://"))
            and (kind is None or kind in self.options.kinds)
            and not item.get("sha256")
        )

    async def _hashes(self, url: str) -> MediaHashes:
        """Download and hash; raises `MediaError`. The download slot is held until the
        hashing is over, even when the caller gives up waiting (cancels): until then the
        bytes are held too."""
        assert self._hasher is not None, "use the fetcher in `async with`"
        async with self._limit:
            data = await self.download(url)
            fmt = sniff(data[:16])
            if fmt is None or fmt.kind not in self.options.kinds:
                raise FetchError("magic", "the bytes are not an image or video postwatch hashes")
            hashing = asyncio.ensure_future(asyncio.to_thread(self._hasher.hash_bytes, data))
            try:
                return await asyncio.shield(hashing)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):  # its outcome no longer counts, its end does
                    await hashing
                raise

    def _record(
        self, post_id: Any, named: list[tuple[int, dict[str, Any]]], task: asyncio.Task[MediaHashes]
    ) -> None:
        """Fill the hashes into every item that names the URL, or count and log why not."""
        if task.cancelled():
            error: BaseException | None = FetchError(
                "post_timeout", f"the post's media took over {self.options.post_timeout:g} s"
            )
        else:
            error = task.exception()
        if error is not None:
            if not isinstance(error, MediaError):
                raise error
            self.stats.failed[error.reason] += 1
            for _, item in named:
                item["error"] = error.reason
            log.warning(
                "media not hashed",
                reason=error.reason,
                error=str(error),
                post=post_id,
                media=[index for index, _ in named],
            )
            return
        hashes = task.result()
        for _, item in named:
            item["sha256"] = hashes.sha256
            item["md5"] = hashes.md5
            if hashes.pdq is not None:
                item["pdq"] = hashes.pdq
                item["pdq_quality"] = hashes.pdq_quality
                item["pdq_mirror"] = hashes.pdq_mirror
            if hashes.features is not None:
                item["features"] = hashes.features
                item["features_mirror"] = hashes.features_mirror
            if hashes.text is not None:
                item["text"] = hashes.text
            if hashes.vpdq:
                item["frames"] = [
                    {"pdq": f.pdq, "quality": f.quality, "at": f.timestamp}
                    for f in keyframes(hashes.vpdq)
                ]
            item.setdefault("kind", hashes.kind)
        self.stats.fetched += 1

    async def download(self, url: str) -> bytes:
        """The body at `url`, after the checks in the module docstring; raises `MediaError`."""
        try:
            async with asyncio.timeout(self.options.timeout):
                return await self._follow(URL(url))
        except TimeoutError as exc:
            raise FetchError(
                "timeout", f"no complete answer in {self.options.timeout:g} s"
            ) from exc
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, _BlockedAddress):
                raise FetchError("address", str(exc.os_error)) from exc
            raise FetchError("network", str(exc)) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise FetchError("network", str(exc) or type(exc).__name__) from exc

    async def _follow(self, url: URL) -> bytes:
        assert self._session is not None
        for _ in range(self.options.max_redirects + 1):
            self._check_target(url)
            async with self._session.get(url, allow_redirects=False) as response:
                if response.status in _REDIRECTS and "Location" in response.headers:
                    url = response.url.join(URL(response.headers["Location"]))
                    continue
                if response.status != 200:
                    raise FetchError("http_status", f"HTTP {response.status}")
                if response.content_type not in self._mime_types:
                    raise FetchError("content_type", f"content type {response.content_type}")
                return await self._read(response)
        raise FetchError("redirects", f"more than {self.options.max_redirects} redirects")

    def _check_target(self, url: URL) -> None:
        if url.scheme not in ("http", "https") or not url.host:
            raise FetchError("address", f"not an http(s) URL: {url.scheme}:")
        if self.options.allow_private_addresses:
            return
        try:
            ipaddress.ip_address(url.host)
        except ValueError:
            return  # a name: the resolver keeps only its public addresses
        if not is_public_address(url.host):
            raise FetchError("address", f"{url.host} is not a public address")

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self.options.max_bytes
        if response.content_length is not None and response.content_length > cap:
            raise TooLarge(f"{response.content_length} bytes announced, over the cap of {cap}")
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > cap:
                raise TooLarge(f"over the cap of {cap} bytes")
        return bytes(body)
