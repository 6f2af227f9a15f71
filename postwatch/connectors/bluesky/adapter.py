"""Jetstream commit events for `app.bsky.feed.post` records to Post v1.

Facets (rich-text annotations) give the links, hashtags and mentions; image embeds give
media URLs on Bluesky's image CDN, derived from the author's DID and the blob's CID.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from postwatch.connectors.base import MalformedEvent, parse_time
from postwatch.rules.alerts import isoformat

__all__ = ["CDN", "POST_COLLECTION", "event_time", "post_id", "record_to_post", "record_uri"]

SOURCE = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
CDN = "https://cdn.bsky.app/img/feed_fullsize/plain"
"""Where the App View serves full-size images: `<CDN>/<did>/<cid>@jpeg`."""

_IMAGES = "app.bsky.embed.images"
_WITH_MEDIA = "app.bsky.embed.recordWithMedia"
_EXTERNAL = "app.bsky.embed.external"


def record_uri(did: str, collection: str, rkey: str) -> str:
    return f"at://{did}/{collection}/{rkey}"


def post_id(uri: str) -> str:
    return f"{SOURCE}:{uri}"


def event_time(event: dict[str, Any]) -> datetime:
    """When Jetstream saw the event (`time_us`, microseconds since the epoch)."""
    time_us = event.get("time_us")
    if not isinstance(time_us, int) or isinstance(time_us, bool):
        raise MalformedEvent("bad_event", f"time_us is not an integer: {time_us!r}")
    return datetime.fromtimestamp(time_us / 1_000_000, UTC)


def record_to_post(
    did: str, rkey: str, record: Any, seen_at: datetime, cdn: str = CDN
) -> dict[str, Any]:
    """The Post v1 of one post record; raises `MalformedEvent` if it is not one.

    `created_at` is the record's own `createdAt`; a client that wrote an unreadable one
    gets Jetstream's time instead, because losing the post would be worse.
    """
    if not isinstance(record, dict) or not isinstance(record.get("text", ""), str):
        raise MalformedEvent("bad_record", "a post record is an object with a text")
    try:
        created = parse_time(record.get("createdAt"))
    except MalformedEvent:
        created = seen_at
    uri = record_uri(did, POST_COLLECTION, rkey)
    try:
        links, hashtags, mentions = _facets(record.get("facets") or ())
        embed: dict[str, Any] = record["embed"] if isinstance(record.get("embed"), dict) else {}
        if embed.get("$type") == _EXTERNAL and embed["external"].get("uri"):
            links.append(str(embed["external"]["uri"]))
        hashtags.extend(str(tag) for tag in record.get("tags") or ())
        media = _images(did, embed, cdn)
        langs = record.get("langs") or []
        reply = record.get("reply") or {}
        parent = reply.get("parent", {}).get("uri") if reply else None
    except (AttributeError, KeyError, TypeError) as exc:
        raise MalformedEvent("bad_record", f"unexpected shape: {exc!r}") from exc
    post: dict[str, Any] = {
        "schema": "postwatch.post/1",
        "id": post_id(uri),
        "source": SOURCE,
        "url": f"https://bsky.app/profile/{did}/post/{rkey}",
        "created_at": isoformat(created),
        "author": {"id": f"{SOURCE}:{did}"},
        "text": record.get("text", ""),
        "lang": str(langs[0]) if langs else None,
        "links": list(dict.fromkeys(links)),
        "hashtags": list(dict.fromkeys(hashtags)),
        "media": media,
        "reply_to": post_id(str(parent)) if parent else None,
        "repost_of": None,
    }
    if mentions:
        post["mentions"] = list(dict.fromkeys(mentions))
    return post


def _facets(facets: Any) -> tuple[list[str], list[str], list[str]]:
    links: list[str] = []
    hashtags: list[str] = []
    mentions: list[str] = []
    for facet in facets:
        for feature in facet.get("features") or ():
            kind = feature.get("$type")
            if kind == "app.bsky.richtext.facet#link" and feature.get("uri"):
                links.append(str(feature["uri"]))
            elif kind == "app.bsky.richtext.facet#tag" and feature.get("tag"):
                hashtags.append(str(feature["tag"]))
            elif kind == "app.bsky.richtext.facet#mention" and feature.get("did"):
                mentions.append(f"{SOURCE}:{feature['did']}")
    return links, hashtags, mentions


def _images(did: str, embed: dict[str, Any], cdn: str) -> list[dict[str, Any]]:
    if embed.get("$type") == _WITH_MEDIA:
        embed = embed.get("media") or {}
    if embed.get("$type") != _IMAGES:
        return []
    media: list[dict[str, Any]] = []
    for image in embed.get("images") or ():
        ref = image["image"]["ref"]
        # the firehose form is {"$link": cid}; some relays flatten it to the CID string
        cid = ref.get("$link") if isinstance(ref, dict) else ref
        if not isinstance(cid, str) or not cid:
            raise MalformedEvent("bad_record", f"image without a CID: {ref!r}")
        item: dict[str, Any] = {"url": f"{cdn}/{did}/{cid}@jpeg", "kind": "image"}
        if image.get("alt"):
            item["alt"] = str(image["alt"])
        media.append(item)
    return media
