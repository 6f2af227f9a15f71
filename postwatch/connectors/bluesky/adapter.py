"""Jetstream commit events for `app.bsky.feed.post` records to Post v1.

Facets (rich-text annotations) give the links, hashtags and mentions; image embeds give
media URLs on Bluesky's image CDN, derived from the author's DID and the blob's CID.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from postwatch.connectors.base import MalformedEvent, parse_time
from postwatch.connectors.posts import post_v1
from postwatch.connectors.values import malformed_as

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
        raise MalformedEvent("bad_event", f"time_us is not an integer: {time_us!r:.80}")
    try:
        return datetime.fromtimestamp(time_us / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedEvent("bad_event", f"time_us is no time: {time_us}") from exc


def record_to_post(
    did: str, rkey: str, record: Any, seen_at: datetime, cdn: str = CDN
) -> dict[str, Any]:
    """The Post v1 of one post record; raises `MalformedEvent` if it is not one.

    `created_at` is the record's own `createdAt`; a client that wrote an unreadable one
    gets Jetstream's time instead, because losing the post would be worse. For the same
    reason, `langs` that are no list of strings give no language, and an `embed` that is no
    object is no embed. Other parts of the wrong shape (a facet that is no object, an image
    without a CID) make the record malformed; a link, tag, mention or alt text that is no
    string is left out.
    """
    if not isinstance(record, dict) or not isinstance(record.get("text", ""), str):
        raise MalformedEvent("bad_record", "a post record is an object with a text")
    with malformed_as("bad_record"):
        return _post(did, rkey, record, seen_at, cdn)


def _post(
    did: str, rkey: str, record: dict[str, Any], seen_at: datetime, cdn: str
) -> dict[str, Any]:
    try:
        created = parse_time(record.get("createdAt"))
    except MalformedEvent:
        created = seen_at
    uri = record_uri(did, POST_COLLECTION, rkey)
    links, hashtags, mentions = _facets(_array(record.get("facets"), "facets"))
    embed = record["embed"] if isinstance(record.get("embed"), dict) else {}
    if embed.get("$type") == _EXTERNAL:
        links += _strings(_object(embed.get("external"), "external").get("uri"))
    hashtags += [tag for item in _array(record.get("tags"), "tags") for tag in _strings(item)]
    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    parent = _object(_object(record.get("reply"), "reply").get("parent"), "reply parent")
    replied = _strings(parent.get("uri"))
    post = post_v1(
        post_id=post_id(uri),
        source=SOURCE,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        created_at=created,
        author={"id": f"{SOURCE}:{did}"},
        text=record.get("text", ""),
        lang=lang,
        links=links,
        hashtags=hashtags,
        media=_images(did, embed, cdn),
        reply_to=post_id(replied[0]) if replied else None,
    )
    if mentions:
        post["mentions"] = list(dict.fromkeys(mentions))
    return post


def _facets(facets: list[Any]) -> tuple[list[str], list[str], list[str]]:
    links: list[str] = []
    hashtags: list[str] = []
    mentions: list[str] = []
    for facet in facets:
        for item in _array(_object(facet, "facet").get("features"), "features"):
            feature = _object(item, "feature")
            kind = feature.get("$type")
            if kind == "app.bsky.richtext.facet#link":
                links += _strings(feature.get("uri"))
            elif kind == "app.bsky.richtext.facet#tag":
                hashtags += _strings(feature.get("tag"))
            elif kind == "app.bsky.richtext.facet#mention":
                mentions += [f"{SOURCE}:{did}" for did in _strings(feature.get("did"))]
    return links, hashtags, mentions


def _images(did: str, embed: dict[str, Any], cdn: str) -> list[dict[str, Any]]:
    if embed.get("$type") == _WITH_MEDIA:
        embed = _object(embed.get("media"), "media")
    if embed.get("$type") != _IMAGES:
        return []
    media: list[dict[str, Any]] = []
    for entry in _array(embed.get("images"), "images"):
        image = _object(entry, "image")
        ref = _object(image.get("image"), "blob").get("ref")
        # the firehose form is {"$link": cid}; some relays flatten it to the CID string
        cid = ref.get("$link") if isinstance(ref, dict) else ref
        if not isinstance(cid, str) or not cid:
            raise MalformedEvent("bad_record", f"image without a CID: {ref!r:.80}")
        item: dict[str, Any] = {"url": f"{cdn}/{did}/{cid}@jpeg", "kind": "image"}
        if isinstance(image.get("alt"), str) and image["alt"]:
            item["alt"] = image["alt"]
        media.append(item)
    return media


def _object(value: Any, what: str) -> dict[str, Any]:
    """`value`, an object (absent: an empty one); raises `MalformedEvent` for another type."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent("bad_record", f"{what} is not an object")
    return value


def _array(value: Any, what: str) -> list[Any]:
    """`value`, an array (absent: an empty one); raises `MalformedEvent` for another type."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedEvent("bad_record", f"{what} is not an array")
    return value


def _strings(value: Any) -> list[str]:
    """`[value]` if it is a non-empty string, else `[]`."""
    return [value] if isinstance(value, str) and value else []
