"""Post v1 as every adapter makes it (`schemas/post-v1.json`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from postwatch.rules.alerts import isoformat

__all__ = ["post_v1"]


def post_v1(
    *,
    post_id: str,
    source: str,
    url: str | None,
    created_at: datetime,
    author: dict[str, str | None],
    text: str,
    lang: str | None,
    links: Iterable[str] = (),
    hashtags: Iterable[str] = (),
    media: Iterable[dict[str, Any]] = (),
    reply_to: str | None = None,
    repost_of: str | None = None,
) -> dict[str, Any]:
    """The Post v1 document, its fields in the schema's order: an empty `lang` is none, and
    `links` and `hashtags` keep the first of any that repeat. What only some sources have
    (`mentions`, `edited_at`, `forwarded_from`, …) the adapter adds to it."""
    return {
        "schema": "postwatch.post/1",
        "id": post_id,
        "source": source,
        "url": url,
        "created_at": isoformat(created_at),
        "author": author,
        "text": text,
        "lang": lang or None,
        "links": list(dict.fromkeys(links)),
        "hashtags": list(dict.fromkeys(hashtags)),
        "media": list(media),
        "reply_to": reply_to,
        "repost_of": repost_of,
    }
