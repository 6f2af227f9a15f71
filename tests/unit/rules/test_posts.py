"""Post v1 decoding: the compiled msgspec types give the JSON Schema's verdict on every
record, and each reason is the one a consumer expects."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postwatch.rules import InvalidPost, parse_post, parse_posts, post_from_dict
from postwatch.rules.posts import MAX_POST_BYTES
from postwatch.schemas import SchemaViolation, validator

VALID: dict[str, Any] = {
    "schema": "postwatch.post/1",
    "id": "bluesky:at://did:plc:abc/app.bsky.feed.post/3k2",
    "source": "bluesky",
    "url": "https://bsky.app/profile/did:plc:abc/post/3k2",
    "created_at": "2025-07-25T10:00:00Z",
    "observed_at": "2025-07-25T10:00:01.250+02:00",
    "author": {"id": "bluesky:did:plc:abc", "handle": "ex.bsky.social", "display_name": "Ex"},
    "text": "post text",
    "lang": "en",
    "links": ["https://example.org/page"],
    "hashtags": ["example"],
    "media": [
        {
            "url": "https://x/img.jpg",
            "kind": "image",
            "sha256": "a" * 64,
            "md5": "B" * 32,
            "pdq": "0" * 64,
            "pdq_quality": 100,
        }
    ],
    "reply_to": None,
    "repost_of": None,
    "unknown": {"kept": "and ignored"},
}

ENRICHED: list[tuple[list[dict[str, Any]], bool]] = [
    ([{"text": "read in an image", "error": "http_status", "features_mirror": "AgAA"}], True),
    ([{"text": "x" * 4000}], True),
    ([{"text": "x" * 4001}], False),
    ([{"error": "Not A Reason"}], False),
    ([{"features_mirror": "not base64!"}], False),
    ([{"frames": [{"pdq": "a" * 64, "quality": 90, "at": 1.5}, {"pdq": "b" * 64}]}], True),
    ([{"frames": [{"pdq": "g" * 64}]}], False),
    ([{"frames": [{"pdq": "a" * 64, "quality": 101}]}], False),
    ([{"frames": [{"pdq": "a" * 64, "at": -1}]}], False),
    ([{"frames": [{"quality": 90}]}], False),
    ([{"frames": [{"pdq": "a" * 64}] * 64}], True),
    ([{"frames": [{"pdq": "a" * 64}] * 65}], False),
    ([{"frames": {"pdq": "a" * 64}}], False),
]
"""Media items as enrichment fills them (text in images, why an item has no hashes, the
mirror image's features, a video's keyframes), and whether Post v1 takes them."""

TRICKY: st.SearchStrategy[Any] = st.sampled_from(
    [
        None,
        True,
        0,
        1,
        1.5,
        50.0,
        -1,
        101,
        "",
        "x",
        "ab",
        "a:b",
        "abc:",
        "ABC:x",
        "x:y",
        "bluesky",
        "blue sky",
        "postwatch.post/1",
        "postwatch.post/2",
        "a" * 64,
        "g" * 64,
        "a" * 32,
        "2025-07-25T10:00:00Z",
        "2025-07-25 10:00:00Z",
        "2025-07-25t10:00:00z",
        "2025-07-25T10:00:00+0530",
        "2025-13-45T10:00:00Z",
        "9999-12-31T23:59:59-01:00",  # past UTC's last day
        "0001-01-01T00:00:00+14:00",  # before its first
        "9999-12-31T23:59:59+01:00",
        "2025-07-25T10:00:00.5-05:00",
        "２０２５-07-25T10:00:00Z",
        # newlines: the schema's `$` does not match before a final one (Python's does)
        "2025-07-25T10:00:00Z\n",
        "bluesky\n",
        "a:b\nc",
        "x:\ny",
        "a:b\n",
        [],
        ["a"],
        [1],
        {},
        {"id": "x:y"},
        {"id": 3},
        [{}],
        [{"pdq_quality": 101}],
        [{"sha256": "A" * 64}],
        [{"md5": "z"}],
        *(media for media, _ in ENRICHED),
    ]
)
PATHS = [
    ("schema",),
    ("id",),
    ("source",),
    ("url",),
    ("created_at",),
    ("observed_at",),
    ("author",),
    ("author", "id"),
    ("author", "handle"),
    ("author", "display_name"),
    ("text",),
    ("lang",),
    ("links",),
    ("hashtags",),
    ("media",),
    ("reply_to",),
    ("repost_of",),
]


def schema_accepts(doc: Any) -> bool:
    try:
        validator("post")(doc)
    except SchemaViolation:
        return False
    try:
        for key in ("created_at", "observed_at"):
            if doc.get(key):
                datetime.fromisoformat(doc[key]).astimezone(UTC)
    except (ValueError, OverflowError):  # alerts give times in UTC
        return False
    return True


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(orjson.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        target = doc
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                break
            target = target[key]
        else:
            if draw(st.booleans()) and path[-1] in target:
                del target[path[-1]]
            else:
                target[path[-1]] = copy.deepcopy(draw(TRICKY))  # never one object twice
    return doc


@settings(max_examples=600, deadline=None)
@given(mutated())
def test_decoding_gives_the_schemas_verdict(doc: dict[str, Any]) -> None:
    expected = schema_accepts(doc)
    for decode in (post_from_dict, lambda d: parse_post(orjson.dumps(d))):
        verdict = None
        try:
            decode(doc)
        except InvalidPost as exc:
            verdict = exc.reason
        assert verdict == (None if expected else "schema")


@pytest.mark.parametrize(("media", "valid"), ENRICHED)
def test_what_enrichment_adds_is_checked_as_the_schema_says(
    media: list[dict[str, Any]], valid: bool
) -> None:
    doc = {**VALID, "media": media}
    assert schema_accepts(doc) is valid
    for decode in (post_from_dict, lambda d: parse_post(orjson.dumps(d))):
        if valid:
            assert decode(doc).media[0] is not None
        else:
            with pytest.raises(InvalidPost, match="schema"):
                decode(doc)


def _outcome(result: object) -> object:
    return (result.reason, result.error) if isinstance(result, InvalidPost) else result


@settings(max_examples=300, deadline=None)
@given(st.lists(mutated() | st.just(VALID), max_size=6), st.sampled_from([b"", b"{", b"\xff"]))
def test_a_batch_of_records_decodes_as_each_alone(docs: list[dict[str, Any]], junk: bytes) -> None:
    """The batch's checks of every id, source and time at once give each record the
    verdict, reason and message it has alone, whatever the records around it."""
    records = [orjson.dumps(doc) for doc in docs] + [junk]
    alone: list[object] = []
    for data in records:
        try:
            alone.append(parse_post(data))
        except InvalidPost as exc:
            alone.append((exc.reason, exc.error))
    assert [_outcome(result) for result in parse_posts(records)] == alone


def test_a_valid_post_keeps_every_field() -> None:
    post = parse_post(orjson.dumps(VALID))
    assert post.author.display_name == "Ex"
    assert post.created == datetime(2025, 7, 25, 10, tzinfo=UTC)
    assert post.created_at == VALID["created_at"]  # as written
    assert post.observed is not None
    assert post.observed.utcoffset() is not None
    assert post.links == ("https://example.org/page",)
    assert post.media[0].pdq_quality == 100
    assert post.media[0].md5 == "B" * 32


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00"])
@pytest.mark.parametrize("key", ["created_at", "observed_at"])
def test_a_time_out_of_utcs_range_is_refused_and_the_batch_goes_on(key: str, moment: str) -> None:
    bad = orjson.dumps({**VALID, key: moment})
    with pytest.raises(InvalidPost) as caught:
        parse_post(bad)
    assert (caught.value.reason, caught.value.error) == ("schema", f"not a timestamp: {moment!r}")
    decoded = parse_posts([orjson.dumps(VALID), bad, orjson.dumps(VALID)])
    assert [type(post).__name__ for post in decoded] == ["Post", "InvalidPost", "Post"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\xff\xfe", "not_utf8"), (b"{", "not_json"), (b"0\x00", "not_json"), (b"[]", "schema")],
)
def test_each_failure_has_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidPost) as caught:
        parse_post(data)
    assert caught.value.reason == reason


def test_a_post_longer_than_a_record_is_refused_and_the_batch_goes_on() -> None:
    longest = orjson.dumps({**VALID, "text": ""})
    fits = orjson.dumps({**VALID, "text": "x" * (MAX_POST_BYTES - len(longest))})
    assert len(fits) == MAX_POST_BYTES
    over = orjson.dumps({**VALID, "text": "x" * (MAX_POST_BYTES - len(longest) + 1)})
    with pytest.raises(InvalidPost) as caught:
        parse_post(over)
    assert caught.value.reason == "too_large"
    assert caught.value.error == "1,048,577 bytes, more than a post's 1,048,576"
    decoded = parse_posts([fits, over, orjson.dumps(VALID)])
    assert [type(post).__name__ for post in decoded] == ["Post", "InvalidPost", "Post"]
