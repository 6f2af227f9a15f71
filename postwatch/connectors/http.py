"""HTTP status handling shared by the connectors that poll or stream over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from postwatch.connectors.base import SourceRejected, SourceUnavailable

__all__ = ["check_status", "describe", "retry_after", "session"]

_TOO_MANY_REQUESTS = 429


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
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


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
