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
from postwatch.rules.alerts import isoformat

__all__ = ["SOURCE", "payload_to_post", "post_id"]

SOURCE = "x"
_OWN_MEDIA_HOSTS = ("pic.twitter.com/", "pic.x.com/")
"""Display URLs of links to a post's own attached media, which `media` already lists."""


def post_id(native: str) -> str:
    return f"{SOURCE}:{native}"


def payload_to_post(payload: dict[str, Any]) -> dict[str, Any]:
    """The Post v1 of one stream payload; raises `MalformedEvent` if it lacks what a post
    needs."""
    try:
        return _post(payload)
    except (AttributeError, KeyError, TypeError) as exc:
        raise MalformedEvent("bad_post", f"unexpected shape: {exc!r}") from exc


def _post(payload: dict[str, Any]) -> dict[str, Any]:
    tweet = payload["data"]
    includes = payload.get("includes") or {}
    users = {str(u["id"]): u for u in includes.get("users") or ()}
    tweets = {str(t["id"]): t for t in includes.get("tweets") or ()}
    media = {str(m["media_key"]): m for m in includes.get("media") or ()}
    native = _string(tweet["id"])
    author_native = _string(tweet["author_id"])
    author = users.get(author_native, {})
    refs = {str(r["type"]): str(r["id"]) for r in tweet.get("referenced_tweets") or ()}
    shown = tweets.get(refs.get("retweeted", ""), tweet)
    entities = shown.get("entities") or {}
    handle = author.get("username")
    lang = tweet.get("lang")
    post: dict[str, Any] = {
        "schema": "postwatch.post/1",
        "id": post_id(native),
        "source": SOURCE,
        "url": f"https://x.com/{handle or 'i/web'}/status/{native}",
        "created_at": isoformat(parse_time(tweet.get("created_at"))),
        "author": {
            "id": post_id(author_native),
            "handle": handle,
            "display_name": author.get("name"),
        },
        "text": str((shown.get("note_tweet") or {}).get("text") or shown.get("text") or ""),
        "lang": None if lang in (None, "und") else lang,
        "links": list(dict.fromkeys(_links(entities))),
        "hashtags": [str(h["tag"]) for h in entities.get("hashtags") or () if h.get("tag")],
        "media": [
            _media(media[key])
            for key in (shown.get("attachments") or {}).get("media_keys") or ()
            if key in media
        ],
        "reply_to": post_id(refs["replied_to"]) if "replied_to" in refs else None,
        "repost_of": post_id(refs["retweeted"]) if "retweeted" in refs else None,
    }
    if "quoted" in refs:
        post["quote_of"] = post_id(refs["quoted"])
    rules = payload.get("matching_rules")
    if rules:
        post["matching_rules"] = [{"id": str(r.get("id")), "tag": r.get("tag")} for r in rules]
    return post


def _links(entities: dict[str, Any]) -> list[str]:
    found = []
    for url in entities.get("urls") or ():
        if url.get("media_key") or str(url.get("display_url", "")).startswith(_OWN_MEDIA_HOSTS):
            continue
        target = url.get("unwound_url") or url.get("expanded_url") or url.get("url")
        if target:
            found.append(str(target))
    return found


def _media(item: dict[str, Any]) -> dict[str, Any]:
    """A photo as an image; a video or GIF as its best MP4, else its poster image."""
    if item.get("type") == "photo":
        return {"url": item.get("url"), "kind": "image"}
    mp4 = [v for v in item.get("variants") or () if v.get("content_type") == "video/mp4"]
    if mp4:
        best = max(mp4, key=lambda v: v.get("bit_rate") or 0)
        return {"url": best.get("url"), "kind": "video"}
    return {"url": item.get("preview_image_url"), "kind": "image"}


def _string(value: Any) -> str:
    if not isinstance(value, str | int) or value == "":
        raise MalformedEvent("bad_post", f"not an id: {value!r}")
    return str(value)
