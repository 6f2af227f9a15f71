"""HTTP status handling shared by the connectors that poll or stream over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from postwatch.connectors.base import SourceRejected, SourceUnavailable

__all__ = [
    "MAX_RESPONSE_BYTES",
    "MAX_RETRY_AFTER_S",
    "check_status",
    "describe",
    "read_bounded",
    "retry_after",
    "session",
]

_TOO_MANY_REQUESTS = 429
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""The largest answer a connector reads (a page of statuses, a channel's preview, a feed);
the answers of the sources are a few hundred KB."""
MAX_RETRY_AFTER_S = 3600.0
"""The longest a source's `Retry-After` makes a connector wait: a day or a year asked for
would park it, the next failure backs off again."""


def session(user_agent: str, *, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    """The client session connectors use: one per connector, environment proxies ignored so
    that what runs is exactly what the options say."""
    return aiohttp.ClientSession(
        headers={"User-Agent": user_agent}, timeout=timeout, trust_env=False
    )


def describe(exc: BaseException) -> str:
    """A client error in one line for logs: its type and message. Never its `repr`: aiohttp's
    response errors (too many redirects, bad content type) carry the request in theirs,
    headers and so `Authorization` included."""
    return f"{type(exc).__name__}: {exc}"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit, not to float
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, wait), MAX_RETRY_AFTER_S)


async def read_bounded(
    response: aiohttp.ClientResponse, what: str, limit: int = MAX_RESPONSE_BYTES
) -> bytes:
    """The body of `response`, of at most `limit` bytes; a larger one (told by its length,
    or found reading) raises `SourceUnavailable` (reason `too_large`), read no further."""
    too_large = SourceUnavailable(f"{what}: larger than {limit:,} bytes", reason="too_large")
    if (response.content_length or 0) > limit:
        raise too_large
    body = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def check_status(response: aiohttp.ClientResponse, what: str) -> None:
    """Raise `SourceUnavailable` for 429 and 5xx (with the server's `Retry-After`),
    `SourceRejected` for other 4xx; return for success and 304."""
    status = response.status
    if status < 400:
        return
    message = f"{what}: HTTP {status} {response.reason or ''}".rstrip()
    if status == _TOO_MANY_REQUESTS or status >= 500:
        raise SourceUnavailable(
            message,
            reason="rate_limited" if status == _TOO_MANY_REQUESTS else f"http_{status}",
            retry_after=retry_after(response.headers.get("Retry-After")),
        )
    raise SourceRejected(message)
