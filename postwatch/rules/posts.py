"""Post v1 records from bytes, checked against the published schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from postwatch.rules.errors import RulesError
from postwatch.rules.model import Author, Media, Post
from postwatch.schemas import SchemaViolation, validator

__all__ = ["InvalidPost", "parse_post", "post_from_dict"]


class InvalidPost(RulesError):
    """A record that is not a valid Post v1; `reason` is a short stable code for metrics."""

    def __init__(self, reason: str, error: str) -> None:
        self.reason = reason
        self.error = error
        super().__init__(f"{reason}: {error}")


def parse_post(data: bytes) -> Post:
    """Decode one Post v1 JSON record; raises `InvalidPost` with the reason it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPost("not_utf8", str(exc)) from exc
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidPost("not_json", str(exc)) from exc
    return post_from_dict(doc)


def post_from_dict(doc: Any) -> Post:
    """Build a Post from a decoded JSON value; raises `InvalidPost` if it breaks the schema."""
    try:
        validator("post")(doc)
    except SchemaViolation as exc:
        raise InvalidPost("schema", str(exc)) from exc
    author = doc["author"]
    return Post(
        id=doc["id"],
        source=doc["source"],
        author=Author(author["id"], author.get("handle"), author.get("display_name")),
        created_at=_timestamp(doc["created_at"]),
        text=doc["text"],
        url=doc.get("url"),
        observed_at=_timestamp(doc["observed_at"]) if doc.get("observed_at") else None,
        lang=doc.get("lang"),
        links=tuple(doc.get("links", ())),
        hashtags=tuple(doc.get("hashtags", ())),
        media=tuple(
            Media(
                url=m.get("url"),
                kind=m.get("kind"),
                sha256=m.get("sha256"),
                md5=m.get("md5"),
                pdq=m.get("pdq"),
                pdq_quality=m.get("pdq_quality"),
            )
            for m in doc.get("media", ())
        ),
        reply_to=doc.get("reply_to"),
        repost_of=doc.get("repost_of"),
    )


def _timestamp(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:  # the schema's pattern admits e.g. month 13
        raise InvalidPost("schema", f"not a timestamp: {value!r}") from exc
