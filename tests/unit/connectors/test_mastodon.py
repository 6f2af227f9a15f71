"""Mastodon: server-sent event framing, stream names, status ids, and Status entities."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.connectors.base import MalformedEvent
from postwatch.connectors.mastodon.adapter import fingerprint, status_to_post
from postwatch.connectors.mastodon.client import (
    SseDecoder,
    SseEvent,
    StreamSpec,
    id_after,
    rewound,
)
from tests.conftest import SHARED_DATA
from tests.mutations import adapted_or_malformed, mutated

MASTODON = SHARED_DATA / "mastodon"


def entities() -> dict[str, list[dict[str, Any]]]:
    loaded: dict[str, list[dict[str, Any]]] = json.loads(
        (MASTODON / "entity_examples.json").read_text(encoding="utf-8")
    )
    return loaded


def test_the_recording_decodes_to_its_events_whatever_the_chunking() -> None:
    raw = (MASTODON / "streaming_sse_examples.txt").read_bytes()
    parsed = [
        json.loads(line)
        for line in (MASTODON / "streaming_sse_examples_parsed.jsonl").read_text().splitlines()
    ]
    expected = [
        (p["event"], json.dumps(p["data"], ensure_ascii=False) if p["data_is_json"] else p["data"])
        for p in parsed
    ]
    for size in (1, 7, 4096, len(raw)):
        decoder = SseDecoder()
        events = [e for i in range(0, len(raw), size) for e in decoder.feed(raw[i : i + size])]
        got = [
            (
                e.event,
                json.dumps(json.loads(e.data), ensure_ascii=False)
                if e.data[:1] in "{["
                else e.data,
            )
            for e in events
        ]
        assert got == expected


def test_sse_fields_comments_and_line_endings() -> None:
    decoder = SseDecoder()
    stream = b':thump\r\nevent: update\r\ndata: {"a":\r\ndata: 1}\r\nid: 7\r\n\r\ndata: plain\n\n\n'
    assert list(decoder.feed(stream)) == [
        SseEvent("update", '{"a":\n1}'),
        SseEvent("message", "plain"),
    ]


def test_an_overlong_line_is_reported_once_and_the_stream_goes_on() -> None:
    decoder = SseDecoder(max_line=16)
    events = list(decoder.feed(b"event: update\ndata: " + b"x" * 40))
    events += list(decoder.feed(b"xx\n\nevent: delete\ndata: 9\n\n"))
    assert events == [SseEvent("", "line too long"), SseEvent("delete", "9")]


def test_stream_names_map_to_streaming_and_timeline_endpoints() -> None:
    cases = {
        "public": (("/api/v1/streaming/public", {}), ("/api/v1/timelines/public", {})),
        "public:local": (
            ("/api/v1/streaming/public/local", {}),
            ("/api/v1/timelines/public", {"local": "true"}),
        ),
        "hashtag:#caturday": (
            ("/api/v1/streaming/hashtag", {"tag": "caturday"}),
            ("/api/v1/timelines/tag/caturday", {}),
        ),
        "list:42": (("/api/v1/streaming/list", {"list": "42"}), ("/api/v1/timelines/list/42", {})),
    }
    for text, (streaming, timeline) in cases.items():
        spec = StreamSpec.parse(text)
        assert (spec.streaming(), spec.timeline()) == (streaming, timeline)
    for bad in ("home", "public:remote:x", "hashtag:", "list"):
        with pytest.raises(ValueError, match="not a stream"):
            StreamSpec.parse(bad)


def test_status_ids_order_and_rewind_by_their_time() -> None:
    assert id_after("109348677773283527", "108914327388663283")
    assert not id_after("99", "100")
    assert id_after("100", "99")
    # snowflake ids hold milliseconds << 16: five minutes back is 300000 ms back
    assert int(rewound("108914327388663283", 300)) >> 16 == (108914327388663283 >> 16) - 300_000
    assert rewound("1", 300) == "1"  # not a snowflake
    assert rewound("AbCd9", 300) == "AbCd9"


def test_a_status_with_media_maps_field_by_field() -> None:
    status = dict(entities()["Status"][0])
    status["media_attachments"] = entities()["MediaAttachment"]
    status["spoiler_text"] = "money"
    post = status_to_post(status, "mastodon.social")
    assert post == {
        "schema": "postwatch.post/1",
        "id": "mastodon:mastodon.social:103270115826048975",
        "source": "mastodon",
        "url": "https://mastodon.social/@Gargron/103270115826048975",
        "created_at": "2019-12-08T03:48:33.901Z",
        "author": {
            "id": "mastodon:mastodon.social:1",
            "handle": "Gargron@mastodon.social",
            "display_name": "Eugen",
        },
        "text": 'money\n\n"I lost my inheritance with one wrong digit on my sort code"\n\n'
        "https://www.theguardian.com/money/2019/dec/07/"
        "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code",
        "lang": "en",
        "links": [
            "https://www.theguardian.com/money/2019/dec/07/"
            "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code"
        ],
        "hashtags": [],
        "media": [
            {
                "url": "https://files.mastodon.social/media_attachments/files/022/345/792/original/57859aede991da25.jpeg",
                "kind": "image",
            },
            {
                "url": "https://files.mastodon.social/media_attachments/files/022/546/306/original/dab9a597f68b9745.mp4",
                "kind": "video",
            },
            {
                "url": "https://files.mastodon.social/media_attachments/files/021/130/559/original/bc84838f77991326.mp4",
                "kind": "gifv",
            },
            {
                "url": "https://files.mastodon.social/media_attachments/files/021/165/404/original/a31a4a46cd713cd2.mp3",
                "kind": "audio",
            },
        ],
        "reply_to": None,
        "repost_of": None,
    }


def test_a_boost_is_the_boosters_post_of_the_boosted_text() -> None:
    original = entities()["Status"][0]
    booster = entities()["Account"][0]
    boost: dict[str, Any] = {
        "id": "110000000000000001",
        "created_at": "2023-01-01T00:00:00.000Z",
        "url": None,
        "uri": "https://awoo.space/users/noiob/statuses/1/activity",
        "content": "",
        "account": booster,
        "reblog": original,
        "media_attachments": [],
        "tags": [],
    }
    post = status_to_post(boost, "mastodon.social")
    assert post["author"]["id"] == "mastodon:mastodon.social:23634"
    assert post["author"]["handle"] == "noiob@awoo.space"
    assert post["repost_of"] == "mastodon:mastodon.social:103270115826048975"
    assert post["text"].startswith('"I lost my inheritance')
    assert post["url"] == boost["uri"]


def test_an_edit_has_another_fingerprint_a_refetch_the_same() -> None:
    status = entities()["Status"][0]
    edited = {**status, "content": "<p>edited</p>", "edited_at": "2019-12-09T00:00:00.000Z"}
    assert fingerprint(status) == fingerprint(json.loads(json.dumps(status)))
    assert fingerprint(edited) != fingerprint(status)
    assert fingerprint(edited).startswith("103270115826048975:")


@pytest.mark.parametrize(
    "status",
    [[], {"id": "1"}, {"id": "1", "account": {"id": "2", "acct": "a"}, "created_at": "no"}],
)
def test_what_is_not_a_status_is_malformed(status: Any) -> None:
    with pytest.raises(MalformedEvent):
        status_to_post(status, "mastodon.social")


def recorded_statuses() -> list[dict[str, Any]]:
    """Every Status of the recordings: the entity examples, the REST answers and the stream."""
    rest = json.loads((MASTODON / "rest_status_responses.json").read_text(encoding="utf-8"))
    stream = [
        json.loads(line)
        for line in (MASTODON / "streaming_sse_examples_parsed.jsonl").read_text().splitlines()
    ]
    answers = [a for answers in rest.values() for a in answers]  # a status, or a list of them
    return [
        *entities()["Status"],
        *(s for a in answers for s in (a if isinstance(a, list) else [a])),
        *(e["data"] for e in stream if e["event"] in ("update", "status.update")),
    ]


@given(st.sampled_from(recorded_statuses()).flatmap(mutated))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_of_a_recorded_status_is_a_post_or_malformed(status: Any) -> None:
    post = adapted_or_malformed(lambda: status_to_post(status, "mastodon.social"))
    if post is not None:
        assert fingerprint(status).startswith(f"{status['id']}:")
        rewound(str(status["id"]), 300)


@pytest.mark.parametrize(
    "change",
    [
        {"content": "x<![ y"},
        {"content": [[[[[]]]]]},
        {"spoiler_text": {"a": 1}},
        {"language": 7},
        {"url": 7},
        {"media_attachments": [{"url": 7, "type": ["image"]}]},
        {"tags": [{"name": {"a": 1}}]},
        {"edited_at": "9999-12-31T23:59:59-12:00"},
        {"id": "²"},
    ],
)
def test_hostile_values_make_a_valid_post_or_a_malformed_status(change: dict[str, Any]) -> None:
    status = {**entities()["Status"][0], **change}
    adapted_or_malformed(lambda: status_to_post(status, "mastodon.social"))
    fingerprint(status)


def test_a_deep_value_is_never_printed() -> None:
    deep: list[Any] = []
    for _ in range(1000):
        deep = [deep]
    for name in ("content", "spoiler_text", "edited_at", "created_at", "id"):
        status = {**entities()["Status"][0], name: deep}
        adapted_or_malformed(partial(status_to_post, status, "mastodon.social"))
        fingerprint(status)


def test_ids_that_look_like_digits_only_to_unicode_are_no_snowflakes() -> None:
    assert rewound("²³", 300) == "²³"
    assert rewound("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨", 300) == "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨"
