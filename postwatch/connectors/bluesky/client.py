"""Jetstream's wire format: JSON events over a websocket, resumable by a time cursor."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

__all__ = ["subscribe_url"]


def subscribe_url(
    base: str, collections: Sequence[str], dids: Sequence[str], cursor_us: int | None
) -> str:
    """The `/subscribe` URL asking for `collections` (and only `dids`, if any), replaying
    from `cursor_us` (microseconds since the epoch) when given. Query parameters already
    in `base` are kept."""
    parts = urlsplit(base)
    query: list[tuple[str, str]] = [("wantedCollections", c) for c in collections]
    query += [("wantedDids", d) for d in dids]
    if cursor_us is not None:
        query.append(("cursor", str(cursor_us)))
    joined = "&".join(q for q in (parts.query, urlencode(query)) if q)
    return urlunsplit(parts._replace(query=joined))
