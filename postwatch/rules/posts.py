"""Post v1 records from bytes, checked against the published schema.

Decoding and validation happen in C: `_Wire` below states the post-v1 JSON Schema's
constraints as msgspec types (a property test holds the two to the same verdicts), and
timestamps are then parsed as the schema's pattern and `datetime.fromisoformat` allow. A
record that fails gets the JSON Schema validator's own message.

Records come in batches (`parse_posts`): the schema's patterns, checked string by string,
took half the time of decoding a post, so a batch is decoded first without them (into `Post`)
and each pattern is then checked once over the batch's values of its field, joined by
newlines (each distinct time once, and parsed once). A record that does not decode loosely,
and every record of a batch in which a value breaks a pattern or a time is none, is decoded
again strictly, which gives the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import orjson

from postwatch.rules.language.errors import RulesError
from postwatch.rules.language.model import SOURCE_ID_PATTERN, Author, Post, SourceId
from postwatch.schemas import SchemaViolation, validator

__all__ = ["InvalidPost", "parse_post", "parse_posts", "post_from_dict"]

# the schema's patterns, ending in \Z where the schema's end in $: Python's $ also matches
# before a final newline, the schema's (ECMA 262) does not
_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z"
_SOURCE_PATTERN = r"^[a-z0-9_-]+\Z"
_TIME = Annotated[str, msgspec.Meta(pattern=_TIME_PATTERN)]


def _with_patterns(struct: type[msgspec.Struct], **types: Any) -> Any:
    """`struct` (not frozen) with the types of some fields replaced by their patterned forms:
    the post-v1 schema as msgspec types, its fields those of `Post` and `Author`."""
    fields = [
        (f.name, types.get(f.name, f.type))
        if f.default is msgspec.NODEFAULT
        else (f.name, types.get(f.name, f.type), f.default)
        for f in msgspec.structs.fields(struct)
    ]
    return msgspec.defstruct(f"Wire{struct.__name__}", fields, gc=False)


# Post v1 as the schema states it, patterns included; unknown fields are ignored. `Post` is
# the same without the patterns, which `_patterns_hold` checks in bulk.
_Wire = _with_patterns(
    Post,
    id=SourceId,
    source=Annotated[str, msgspec.Meta(min_length=1, pattern=_SOURCE_PATTERN)],
    author=_with_patterns(Author, id=SourceId),
    created_at=_TIME,
    observed_at=_TIME | None,
)
_DECODER = msgspec.json.Decoder(_Wire)
_LOOSE = msgspec.json.Decoder(Post)  # `_Wire` without the patterns


def _lines_of(pattern: str) -> re.Pattern[str]:
    """A regex that matches values each followed by a newline when the pattern (anchored
    at its start; at its end by `\\Z` or not at all) matches each value, for values that
    hold no newline."""
    anchored = pattern.removeprefix("^").removesuffix("\\Z")
    rest = "" if pattern.endswith("\\Z") else ".*"  # what an unanchored end leaves on the line
    # atomic: a line matched is not taken apart again when a later line fails, which
    # would try every way of matching each line before it (`.+.*`)
    return re.compile(f"(?:(?>{anchored}{rest})\n)*")


_SOURCES = _lines_of(_SOURCE_PATTERN)
_IDS = _lines_of(SOURCE_ID_PATTERN)
_TIMES = _lines_of(_TIME_PATTERN)


MAX_POST_BYTES = 1 << 20
"""The longest record a post may be: what one Kafka record of the connectors' producers holds
(aiokafka's `max_request_size`), so that a line of a file is taken as a worker would take it
(a post of 50 MB holding a term many times would take minutes and gigabytes to match)."""


class InvalidPost(RulesError):
    """A record that is not a valid Post v1; `reason` is a short stable code for metrics."""

    def __init__(self, reason: str, error: str) -> None:
        self.reason = reason
        self.error = error
        super().__init__(f"{reason}: {error}")


def parse_post(data: bytes) -> Post:
    """Decode one Post v1 JSON record; raises `InvalidPost` with the reason it is not one."""
    if len(data) > MAX_POST_BYTES:
        too_large = f"{len(data):,} bytes, more than a post's {MAX_POST_BYTES:,}"
        raise InvalidPost("too_large", too_large)
    try:
        wire = _DECODER.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        failure = exc
    except UnicodeDecodeError as exc:  # msgspec's own, for invalid UTF-8 inside a string
        raise InvalidPost("not_utf8", str(exc)) from exc
    except RecursionError as exc:  # msgspec follows unknown fields only so deep
        raise InvalidPost("too_deep", "nested deeper than can be decoded") from exc
    else:
        return _post(wire)
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


def parse_posts(records: Sequence[bytes]) -> list[Post | InvalidPost]:
    """Decode Post v1 JSON records: for each, its Post or the `InvalidPost` saying why it
    is not one (what `parse_post` returns or raises for it alone), in less time than
    `parse_post` one by one."""
    loose: list[Post | None] = []
    for data in records:
        if len(data) > MAX_POST_BYTES:
            loose.append(None)
            continue
        try:
            loose.append(_LOOSE.decode(data))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            loose.append(None)  # decoded again strictly below, for the reason
    if not _patterns_hold([post for post in loose if post is not None]):
        return [_strict(data) for data in records]
    return [
        _strict(data) if post is None else post for post, data in zip(loose, records, strict=True)
    ]


def _patterns_hold(posts: Sequence[Post]) -> bool:
    """Whether every id, source and timestamp of the posts matches its pattern in the
    schema, and every timestamp is a time (False also when a value holds a newline: those
    are checked one by one). Each distinct source and time is checked once: the posts of a
    batch come from a few sources within a few seconds."""
    ids = [post.id for post in posts] + [post.author.id for post in posts]
    times = list(
        {post.created_at for post in posts}
        | {post.observed_at for post in posts if post.observed_at is not None}
    )
    sources = list({post.source for post in posts})
    return all(
        _all_lines_match(pattern, values)
        for pattern, values in ((_IDS, ids), (_TIMES, times), (_SOURCES, sources))
    ) and all(_is_time(value) for value in times)


def _all_lines_match(pattern: re.Pattern[str], values: list[str]) -> bool:
    if not values:
        return True
    joined = "\n".join(values) + "\n"
    return joined.count("\n") == len(values) and pattern.fullmatch(joined) is not None


def _strict(data: bytes) -> Post | InvalidPost:
    """The record decoded with every constraint of `_Wire`, or the reason it breaks one."""
    try:
        return parse_post(data)
    except InvalidPost as exc:
        return exc


def post_from_dict(doc: Any) -> Post:
    """Build a Post from a decoded JSON value; raises `InvalidPost` if it breaks the schema."""
    try:
        wire = msgspec.convert(doc, _Wire)
    except msgspec.ValidationError as exc:
        raise _schema_error(doc, exc) from exc
    return _post(wire)


def _schema_error(doc: Any, exc: msgspec.ValidationError) -> InvalidPost:
    """The schema's own message for a record that failed (msgspec's if the two differ)."""
    try:
        validator("post")(doc)
    except SchemaViolation as violation:
        return InvalidPost("schema", str(violation))
    return InvalidPost("schema", str(exc))


def _post(wire: Any) -> Post:
    """The post of a record decoded strictly, its times checked."""
    post = Post(
        wire.schema,
        wire.id,
        wire.source,
        Author(wire.author.id, wire.author.handle, wire.author.display_name),
        wire.created_at,
        wire.text,
        wire.url,
        wire.observed_at,
        wire.lang,
        wire.links,
        wire.hashtags,
        wire.media,
        wire.reply_to,
        wire.repost_of,
    )
    bad = _bad_time(post)
    if bad is not None:
        raise bad
    return post


def _is_time(value: str) -> bool:
    """Whether a value that matches the schema's pattern is a time in UTC's range: the
    pattern admits month 13, and year 9999 at an offset west of UTC is past the last day
    a time in UTC can have (an alert gives its times in UTC)."""
    try:
        datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


def _bad_time(post: Post) -> InvalidPost | None:
    for value in (post.created_at, post.observed_at):
        if value is not None and not _is_time(value):
            return InvalidPost("schema", f"not a timestamp: {value!r}")
    return None
