"""Mastodon Status entities to Post v1.

Ids are scoped by the instance the connector reads from, because status and account ids
are only unique within one server: `mastodon:<domain>:<id>`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from postwatch.connectors.base import MalformedEvent, parse_time
from postwatch.connectors.html import html_to_text
from postwatch.rules.alerts import isoformat

__all__ = ["fingerprint", "post_id", "status_to_post"]

SOURCE = "mastodon"


def post_id(domain: str, status_id: str) -> str:
    return f"{SOURCE}:{domain}:{status_id}"


def fingerprint(status: dict[str, Any]) -> str:
    """Names one version of a status: the same status fetched twice (stream and REST
    backfill) gives the same fingerprint, an edit gives a new one."""
    version = "\x1f".join(
        str(status.get(field) or "") for field in ("edited_at", "spoiler_text", "content")
    )
    return f"{status.get('id')}:{hashlib.sha256(version.encode('utf-8')).hexdigest()[:16]}"


def status_to_post(status: Any, domain: str) -> dict[str, Any]:
    """The Post v1 of a Status; raises `MalformedEvent` if it lacks what a post needs.

    A boost becomes a post by the booster carrying the boosted text, with `repost_of` set;
    a content warning (`spoiler_text`) is kept as the first paragraph of `text`.
    """
    if not isinstance(status, dict):
        raise MalformedEvent("bad_status", f"a status is a JSON object, not {type(status)}")
    try:
        post = _post(status, domain)
    except (AttributeError, KeyError, TypeError) as exc:
        raise MalformedEvent("bad_status", f"unexpected shape: {exc!r}") from exc
    if status.get("edited_at"):
        post["edited_at"] = isoformat(parse_time(status["edited_at"]))
    return post


def _post(status: dict[str, Any], domain: str) -> dict[str, Any]:
    account = status["account"]
    acct = _string(account.get("acct") or account["username"])
    shown = status["reblog"] if isinstance(status.get("reblog"), dict) else status
    body = html_to_text(str(shown.get("content") or ""))
    spoiler = str(shown.get("spoiler_text") or "").strip()
    return {
        "schema": "postwatch.post/1",
        "id": post_id(domain, _string(status["id"])),
        "source": SOURCE,
        "url": status.get("url") or status.get("uri"),
        "created_at": isoformat(parse_time(status.get("created_at"))),
        "author": {
            "id": f"{SOURCE}:{domain}:{_string(account['id'])}",
            "handle": acct if "@" in acct else f"{acct}@{domain}",
            "display_name": account.get("display_name") or None,
        },
        "text": f"{spoiler}\n\n{body.text}" if spoiler else body.text,
        "lang": shown.get("language"),
        "links": list(body.links),
        "hashtags": [str(tag["name"]) for tag in shown.get("tags") or () if tag.get("name")],
        "media": [
            {"url": media.get("url") or media.get("remote_url"), "kind": media.get("type")}
            for media in shown.get("media_attachments") or ()
        ],
        "reply_to": (
            post_id(domain, str(status["in_reply_to_id"])) if status.get("in_reply_to_id") else None
        ),
        "repost_of": post_id(domain, str(shown["id"])) if shown is not status else None,
    }


def _string(value: Any) -> str:
    if not isinstance(value, str | int) or value == "":
        raise MalformedEvent("bad_status", f"not an id: {value!r}")
    return str(value)
