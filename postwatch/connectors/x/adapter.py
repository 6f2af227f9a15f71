"""Filtered-stream payloads (`data` with its `includes`) to Post v1.

Ids: `x:<post id>` and `x:<user id>`. The author, media and referenced posts come from the
payload's `includes`, so one line is one complete post. A repost carries the original's
whole text, links and media (its own `text` is a cut-off "RT @…" copy), with `repost_of`
set; a quote has `quote_of`; `matching_rules` (ids as strings, and tags) tells which stream
rules let the post through.
"""

from __future__ import annotations

from typing import Any

from postwatch.connectors.base import MalformedEvent, parse_time
from postwatch.connectors.posts import post_v1
from postwatch.connectors.values import (
    array,
    malformed_as,
    native,
    native_id,
    object_or_empty,
    string,
)

__all__ = ["SOURCE", "payload_to_post", "post_id"]

SOURCE = "x"
_OWN_MEDIA_HOSTS = ("pic.twitter.com/", "pic.x.com/")
"""Display URLs of links to a post's own attached media, which `media` already lists."""


def post_id(native: str) -> str:
    return f"{SOURCE}:{native}"


def payload_to_post(payload: dict[str, Any]) -> dict[str, Any]:
    """The Post v1 of one stream payload; raises `MalformedEvent` if it lacks what a post
    needs (the post's id, author id and creation time). Optional parts of the wrong type
    (a `lang` or media URL that is no string, an include without an id) are left out."""
    with malformed_as("bad_post"):
        return _post(payload)


def _post(payload: dict[str, Any]) -> dict[str, Any]:
    tweet = payload.get("data")
    if not isinstance(tweet, dict):
        raise MalformedEvent("bad_post", "the payload's data is not an object")
    includes = object_or_empty(payload.get("includes"))
    users = _by_id(includes.get("users"), "id")
    tweets = _by_id(includes.get("tweets"), "id")
    media = _by_id(includes.get("media"), "media_key")
    tweet_id = _id(tweet.get("id"))
    author_native = _id(tweet.get("author_id"))
    author = users.get(author_native, {})
    refs = {
        kind: ref_id
        for ref in array(tweet.get("referenced_tweets"))
        if (kind := string(object_or_empty(ref).get("type"))) and (ref_id := native(ref.get("id")))
    }
    shown = tweets.get(refs.get("retweeted", ""), tweet)
    entities = object_or_empty(shown.get("entities"))
    handle = string(author.get("username"))
    lang = string(tweet.get("lang"))
    post = post_v1(
        post_id=post_id(tweet_id),
        source=SOURCE,
        url=f"https://x.com/{handle or 'i/web'}/status/{tweet_id}",
        created_at=parse_time(tweet.get("created_at")),
        author={
            "id": post_id(author_native),
            "handle": handle,
            "display_name": string(author.get("name")),
        },
        text=string(object_or_empty(shown.get("note_tweet")).get("text"))
        or string(shown.get("text"))
        or "",
        lang=None if lang == "und" else lang,
        links=_links(entities),
        hashtags=[
            tag
            for h in array(entities.get("hashtags"))
            if (tag := string(object_or_empty(h).get("tag")))
        ],
        media=[
            _media(media[key])
            for key in array(object_or_empty(shown.get("attachments")).get("media_keys"))
            if isinstance(key, str) and key in media
        ],
        reply_to=post_id(refs["replied_to"]) if "replied_to" in refs else None,
        repost_of=post_id(refs["retweeted"]) if "retweeted" in refs else None,
    )
    if "quoted" in refs:
        post["quote_of"] = post_id(refs["quoted"])
    rules = [object_or_empty(r) for r in array(payload.get("matching_rules"))]
    if rules:
        post["matching_rules"] = [
            {"id": native(r.get("id")), "tag": string(r.get("tag"))} for r in rules
        ]
    return post


def _links(entities: dict[str, Any]) -> list[str]:
    found = []
    for item in array(entities.get("urls")):
        url = object_or_empty(item)
        shown = string(url.get("display_url")) or ""
        if url.get("media_key") or shown.startswith(_OWN_MEDIA_HOSTS):
            continue
        target = (
            string(url.get("unwound_url"))
            or string(url.get("expanded_url"))
            or string(url.get("url"))
        )
        if target:
            found.append(target)
    return found


def _media(item: dict[str, Any]) -> dict[str, Any]:
    """A photo as an image; a video or GIF as its best MP4, else its poster image."""
    if item.get("type") == "photo":
        return {"url": string(item.get("url")), "kind": "image"}
    best: tuple[float, str] | None = None
    for entry in array(item.get("variants")):
        variant = object_or_empty(entry)
        url = string(variant.get("url"))
        rate = variant.get("bit_rate")
        if variant.get("content_type") != "video/mp4" or not url:
            continue
        rate = rate if isinstance(rate, int | float) and not isinstance(rate, bool) else 0
        if best is None or rate > best[0]:
            best = (rate, url)
    if best is not None:
        return {"url": best[1], "kind": "video"}
    return {"url": string(item.get("preview_image_url")), "kind": "image"}


def _by_id(items: Any, key: str) -> dict[str, dict[str, Any]]:
    """The objects among `items` by their id under `key` (those without one left out)."""
    found: dict[str, dict[str, Any]] = {}
    for item in array(items):
        found_id = native(object_or_empty(item).get(key))
        if found_id is not None:
            found[found_id] = item
    return found


def _id(value: Any) -> str:
    return native_id(value, "bad_post")
