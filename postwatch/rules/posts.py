"""Post v1 records from bytes, checked against the published schema.

Decoding and validation happen in one pass in C: `_Wire` below states the post-v1 JSON
Schema's constraints as msgspec types (a property test holds the two to the same verdicts),
and timestamps are then parsed as the schema's pattern and `datetime.fromisoformat` allow.
A record that fails gets the JSON Schema validator's own message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

from postwatch.rules.errors import RulesError
from postwatch.rules.model import Author, Media, Post, SourceId
from postwatch.schemas import SchemaViolation, validator

__all__ = ["InvalidPost", "parse_post", "post_from_dict"]

_TIME = Annotated[
    str,
    msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"),
]


class _Wire(msgspec.Struct, gc=False):
    """Post v1 as the schema states it; unknown fields are ignored. Not tracked by the
    garbage collector, like the Post it becomes (see `model.Post`)."""

    schema: Literal["postwatch.post/1"]
    id: SourceId
    source: Annotated[str, msgspec.Meta(min_length=1, pattern="^[a-z0-9_-]+$")]
    author: Author
    created_at: _TIME
    text: str
    url: str | None = None
    observed_at: _TIME | None = None
    lang: str | None = None
    links: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    reply_to: str | None = None
    repost_of: str | None = None


_DECODER = msgspec.json.Decoder(_Wire)


class InvalidPost(RulesError):
    """A record that is not a valid Post v1; `reason` is a short stable code for metrics."""

    def __init__(self, reason: str, error: str) -> None:
        self.reason = reason
        self.error = error
        super().__init__(f"{reason}: {error}")


def parse_post(data: bytes) -> Post:
    """Decode one Post v1 JSON record; raises `InvalidPost` with the reason it is not one."""
    try:
        return _post(_DECODER.decode(data))
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        failure = exc
    except UnicodeDecodeError as exc:  # msgspec's own, for invalid UTF-8 inside a string
        raise InvalidPost("not_utf8", str(exc)) from exc
    except RecursionError as exc:  # msgspec follows unknown fields only so deep
        raise InvalidPost("too_deep", "nested deeper than can be decoded") from exc
    # a wrong value can be reported before the rest of the bytes are read: is it JSON?
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as not_utf8:
            raise InvalidPost("not_utf8", str(not_utf8)) from exc
        raise InvalidPost("not_json", str(exc)) from exc
    if not isinstance(failure, msgspec.ValidationError):  # the two parsers disagree on JSON
        raise InvalidPost("not_json", str(failure)) from failure
    raise _schema_error(doc, failure) from failure


def post_from_dict(doc: Any) -> Post:
    """Build a Post from a decoded JSON value; raises `InvalidPost` if it breaks the schema."""
    try:
        return _post(msgspec.convert(doc, _Wire))
    except msgspec.ValidationError as exc:
        raise _schema_error(doc, exc) from exc


def _schema_error(doc: Any, exc: msgspec.ValidationError) -> InvalidPost:
    """The schema's own message for a record that failed (msgspec's if the two differ)."""
    try:
        validator("post")(doc)
    except SchemaViolation as violation:
        return InvalidPost("schema", str(violation))
    return InvalidPost("schema", str(exc))


def _post(wire: _Wire) -> Post:
    return Post(
        wire.id,
        wire.source,
        wire.author,
        _timestamp(wire.created_at),
        wire.text,
        wire.url,
        _timestamp(wire.observed_at) if wire.observed_at else None,
        wire.lang,
        wire.links,
        wire.hashtags,
        wire.media,
        wire.reply_to,
        wire.repost_of,
    )


def _timestamp(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:  # the schema's pattern admits e.g. month 13
        raise InvalidPost("schema", f"not a timestamp: {value!r}") from exc
