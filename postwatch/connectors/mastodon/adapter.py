"""Mastodon Status entities to Post v1.

Ids are scoped by the instance the connector reads from, because status and account ids
are only unique within one server: `mastodon:<domain>:<id>`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from postwatch.connectors.base import MalformedEvent, parse_time
from postwatch.connectors.html import html_to_text
from postwatch.connectors.posts import post_v1
from postwatch.connectors.values import array, malformed_as, native, native_id, string
from postwatch.rules.alerts import isoformat

__all__ = ["fingerprint", "post_id", "status_id", "status_to_post"]

SOURCE = "mastodon"


def post_id(domain: str, status_id: str) -> str:
    return f"{SOURCE}:{domain}:{status_id}"


def status_id(status: dict[str, Any]) -> str | None:
    """The status's id as text, or None when it has none (ids are strings; some servers
    write numbers)."""
    return native(status.get("id"))


def fingerprint(status: dict[str, Any]) -> str:
    """Names one version of a status: the same status fetched twice (stream and REST
    backfill) gives the same fingerprint, an edit gives a new one."""
    version = "\x1f".join(
        string(status.get(field)) or "" for field in ("edited_at", "spoiler_text", "content")
    )
    return f"{status_id(status)}:{hashlib.sha256(version.encode('utf-8')).hexdigest()[:16]}"


def status_to_post(status: Any, domain: str) -> dict[str, Any]:
    """The Post v1 of a Status; raises `MalformedEvent` if it lacks what a post needs (ids,
    the account, a creation time) or its content is no string.

    A boost becomes a post by the booster carrying the boosted text, with `repost_of` set;
    a content warning (`spoiler_text`) is kept as the first paragraph of `text`. Optional
    fields of the wrong type (a `language` or media URL that is no string) are left out.
    """
    if not isinstance(status, dict):
        raise MalformedEvent(
            "bad_status", f"a status is a JSON object, not a {type(status).__name__}"
        )
    with malformed_as("bad_status"):
        post = _post(status, domain)
        if status.get("edited_at"):
            post["edited_at"] = isoformat(parse_time(status["edited_at"]))
    return post


def _post(status: dict[str, Any], domain: str) -> dict[str, Any]:
    account = status.get("account")
    if not isinstance(account, dict):
        raise MalformedEvent("bad_status", "a status has an account")
    acct = _id(account.get("acct") or account.get("username"))
    shown = status["reblog"] if isinstance(status.get("reblog"), dict) else status
    content = shown.get("content")
    if not isinstance(content, str | None):
        raise MalformedEvent("bad_status", "the content is not a string")
    body = html_to_text(content or "")
    spoiler = (string(shown.get("spoiler_text")) or "").strip()
    reply = status.get("in_reply_to_id")
    return post_v1(
        post_id=post_id(domain, _id(status.get("id"))),
        source=SOURCE,
        url=string(status.get("url")) or string(status.get("uri")),
        created_at=parse_time(status.get("created_at")),
        author={
            "id": f"{SOURCE}:{domain}:{_id(account.get('id'))}",
            "handle": acct if "@" in acct else f"{acct}@{domain}",
            "display_name": string(account.get("display_name")) or None,
        },
        text=f"{spoiler}\n\n{body.text}" if spoiler else body.text,
        lang=string(shown.get("language")),
        links=body.links,
        hashtags=[
            tag["name"]
            for tag in array(shown.get("tags"))
            if isinstance(tag, dict) and string(tag.get("name"))
        ],
        media=[
            {
                "url": string(media.get("url")) or string(media.get("remote_url")),
                "kind": string(media.get("type")),
            }
            for media in array(shown.get("media_attachments"))
            if isinstance(media, dict)
        ],
        reply_to=post_id(domain, replied) if (replied := native(reply)) else None,
        repost_of=post_id(domain, _id(shown.get("id"))) if shown is not status else None,
    )


def _id(value: Any) -> str:
    return native_id(value, "bad_status")
