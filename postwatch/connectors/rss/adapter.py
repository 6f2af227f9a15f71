"""Feed entries (as feedparser reads RSS 0.9x/1.0/2.0 and Atom) to Post v1."""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from typing import Any

from postwatch.connectors.base import MalformedEvent
from postwatch.connectors.html import html_to_text
from postwatch.connectors.posts import post_v1
from postwatch.connectors.values import malformed_as

__all__ = ["entry_key", "entry_to_post"]

SOURCE = "rss"


def entry_key(entry: Any) -> str:
    """What identifies an entry within its feed: its id, else its link, else a digest of
    its title and content (some feeds give neither)."""
    for field in ("id", "link"):
        value = _string(entry.get(field))
        if value:
            return f"{field}:{value}"
    body = "\x1f".join(
        (_string(entry.get("title")) or "", _string(entry.get("summary")) or "", _content(entry))
    )
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def entry_to_post(
    entry: Any, feed_url: str, feed: Any, key: str, first_seen: datetime
) -> dict[str, Any]:
    """The Post v1 of one entry of the feed at `feed_url` (`feed` is feedparser's channel
    data). `created_at` is the entry's published (else updated) time, and `first_seen`
    for entries that carry neither or a time no datetime can hold (year 10000 once in
    UTC). Raises `MalformedEvent` for an entry without any title, text or link, and for
    one that cannot be read at all."""
    with malformed_as("bad_entry"):
        return _post(entry, feed_url, feed, key, first_seen)


def _post(entry: Any, feed_url: str, feed: Any, key: str, first_seen: datetime) -> dict[str, Any]:
    title = (_string(entry.get("title")) or "").strip()
    body = html_to_text(_content(entry) or _string(entry.get("summary")) or "")
    link = _string(entry.get("link")) or None
    if not (title or body.text or link):
        raise MalformedEvent("empty_entry", "an entry without title, text or link")
    digest = hashlib.sha256(f"{feed_url}\x1f{key}".encode()).hexdigest()[:32]
    return post_v1(
        post_id=f"{SOURCE}:{digest}",
        source=SOURCE,
        url=link,
        created_at=_created(entry) or first_seen,
        author={
            "id": f"{SOURCE}:{feed_url}",
            "handle": _string(entry.get("author")) or None,
            "display_name": _string(feed.get("title")) or None,
        },
        # many feeds make the title an excerpt of the text: say it once
        text=body.text
        if title and body.text.startswith(title)
        else f"{title}\n\n{body.text}".strip(),
        lang=_string(feed.get("language")),
        links=[*([link] if link else []), *body.links],
        hashtags=[term for tag in _items(entry.get("tags")) if (term := _string(tag.get("term")))],
        media=_media(entry),
    )


def _created(entry: Any) -> datetime | None:
    """The entry's published (else updated) time, if it has one a datetime can hold."""
    for field in ("published_parsed", "updated_parsed"):
        stamp = entry.get(field)
        if stamp:
            try:
                return datetime.fromtimestamp(calendar.timegm(stamp), UTC)
            except (OverflowError, OSError, TypeError, ValueError):
                return None
    return None


def _content(entry: Any) -> str:
    """The fullest text of the entry: `content` (Atom content, RSS content:encoded)."""
    return "\n".join(_string(c.get("value")) or "" for c in _items(entry.get("content")))


def _media(entry: Any) -> list[dict[str, Any]]:
    found: dict[str, str] = {}
    for enclosure in _items(entry.get("enclosures")):
        href = _string(enclosure.get("href"))
        if href:
            found.setdefault(href, _string(enclosure.get("type")) or "")
    for item in _items(entry.get("media_content")):
        url = _string(item.get("url"))
        if url:
            found.setdefault(url, _string(item.get("type")) or _string(item.get("medium")) or "")
    return [{"url": url, "kind": _kind(kind)} for url, kind in found.items()]


def _kind(mime: str) -> str:
    major = mime.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "file"


def _string(value: Any) -> str | None:
    """`value` if it is a string, with any lone surrogate (which no UTF-8 holds) replaced."""
    if not isinstance(value, str):
        return None
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _items(value: Any) -> list[dict[str, Any]]:
    """The objects of a list (anything else in it, or in its place, left out)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
