"""Feed entries (as feedparser reads RSS 0.9x/1.0/2.0 and Atom) to Post v1."""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from typing import Any

from postwatch.connectors.base import MalformedEvent
from postwatch.connectors.html import html_to_text
from postwatch.rules.alerts import isoformat

__all__ = ["entry_key", "entry_to_post"]

SOURCE = "rss"


def entry_key(entry: Any) -> str:
    """What identifies an entry within its feed: its id, else its link, else a digest of
    its title and content (some feeds give neither)."""
    for field in ("id", "link"):
        value = entry.get(field)
        if value:
            return f"{field}:{value}"
    body = "\x1f".join((entry.get("title", ""), entry.get("summary", ""), _content(entry)))
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def entry_to_post(
    entry: Any, feed_url: str, feed: Any, key: str, first_seen: datetime
) -> dict[str, Any]:
    """The Post v1 of one entry of the feed at `feed_url` (`feed` is feedparser's channel
    data). `created_at` is the entry's published (else updated) time, and `first_seen`
    for entries that carry neither. Raises `MalformedEvent` for an entry without any
    title, text or link."""
    title = str(entry.get("title") or "").strip()
    body = html_to_text(_content(entry) or str(entry.get("summary") or ""))
    link = entry.get("link") or None
    if not (title or body.text or link):
        raise MalformedEvent("empty_entry", "an entry without title, text or link")
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    created = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else first_seen
    digest = hashlib.sha256(f"{feed_url}\x1f{key}".encode()).hexdigest()[:32]
    return {
        "schema": "postwatch.post/1",
        "id": f"{SOURCE}:{digest}",
        "source": SOURCE,
        "url": link,
        "created_at": isoformat(created),
        "author": {
            "id": f"{SOURCE}:{feed_url}",
            "handle": entry.get("author") or None,
            "display_name": feed.get("title") or None,
        },
        # many feeds make the title an excerpt of the text: say it once
        "text": body.text
        if title and body.text.startswith(title)
        else f"{title}\n\n{body.text}".strip(),
        "lang": feed.get("language") or None,
        "links": list(dict.fromkeys([*([link] if link else []), *body.links])),
        "hashtags": [t["term"] for t in entry.get("tags") or () if t.get("term")],
        "media": _media(entry),
        "reply_to": None,
        "repost_of": None,
    }


def _content(entry: Any) -> str:
    """The fullest text of the entry: `content` (Atom content, RSS content:encoded)."""
    return "\n".join(str(c.get("value") or "") for c in entry.get("content") or ())


def _media(entry: Any) -> list[dict[str, Any]]:
    found: dict[str, str] = {}
    for enclosure in entry.get("enclosures") or ():
        if enclosure.get("href"):
            found.setdefault(enclosure["href"], enclosure.get("type") or "")
    for item in entry.get("media_content") or ():
        if item.get("url"):
            found.setdefault(item["url"], item.get("type") or item.get("medium") or "")
    return [{"url": url, "kind": _kind(kind)} for url, kind in found.items()]


def _kind(mime: str) -> str:
    major = mime.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "file"
