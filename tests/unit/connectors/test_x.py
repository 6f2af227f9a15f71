"""X's filtered stream: recorded payloads to Post v1, line framing, rule plans, the
reconnection pace X documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.connectors.base import MalformedEvent, SourceUnavailable
from postwatch.connectors.x import Pace, Rule, RuleFileError, read_rules
from postwatch.connectors.x.adapter import payload_to_post
from postwatch.connectors.x.client import LineDecoder, plan_rules
from postwatch.rules import post_from_dict
from tests.conftest import SHARED_DATA
from tests.mutations import adapted_or_malformed, mutated

RECORDED = SHARED_DATA / "x_api_v2"


def lines(name: str) -> list[bytes]:
    return [line for line in (RECORDED / name).read_bytes().split(b"\n") if line.strip()]


def payload(n: int) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(lines("twarc_csv_streaming_output.jsonl")[n])
    return loaded


def test_a_post_with_its_author_and_photo_from_includes() -> None:
    post = payload_to_post(payload(0))
    assert post == {
        "schema": "postwatch.post/1",
        "id": "x:1377650090978992134",
        "source": "x",
        "url": "https://x.com/blackheart_265/status/1377650090978992134",
        "created_at": "2021-04-01T15:52:31.000Z",
        "author": {
            "id": "x:4602771083",
            "handle": "blackheart_265",
            "display_name": "Endangered Species",
        },
        "text": "Fury https://t.co/YbMgHU5xRX https://t.co/tXgDG9jrKX",
        "lang": "en",
        # the pic.twitter.com link is the attached photo, listed in media
        "links": ["https://twitter.com/Manie_DS/status/1377640162566496258"],
        "hashtags": [],
        "media": [{"url": "https://pbs.twimg.com/media/Ex5ldKwXEAEnEnI.jpg", "kind": "image"}],
        "reply_to": None,
        "repost_of": None,
        "quote_of": "x:1377640162566496258",
        "matching_rules": [{"id": "1377649934414049282", "tag": None}],
    }
    assert post_from_dict(post).author.handle == "blackheart_265"


def test_replies_hashtags_and_unwound_links() -> None:
    reply = payload_to_post(payload(1))
    assert reply["reply_to"] == "x:1377266697850257410"
    assert reply["author"]["display_name"] == "Sheelagh Brownlee 💙💙💙"
    dogs = payload_to_post(payload(3))
    assert dogs["hashtags"] == ["DogsofTwitter", "dogs"]
    assert dogs["links"] == []
    assert dogs["media"] == [
        {"url": "https://pbs.twimg.com/media/Ex5lubjXAAQm1WE.jpg", "kind": "image"}
    ]
    groomed = payload_to_post(payload(2))
    assert groomed["links"] == ["https://www.instagram.com/p/CNIQbqSrZRL/?igshid=je3jmv61ndpu"]


def test_a_video_is_its_best_mp4() -> None:
    page = orjson.loads(lines("twarc_csv_media_tweet.jsonl")[0])
    (tweet,) = page["data"]
    post = payload_to_post({"data": tweet, "includes": page["includes"]})
    assert post["media"] == [
        {
            "url": "https://video.twimg.com/ext_tw_video/1558552952549277696/pu/vid/1280x720/"
            "WiZrNZKT2lMzK5zA.mp4?tag=12",
            "kind": "video",
        }
    ]
    assert post["links"] == []  # the link to the video itself carries its media key
    del page["includes"]["media"][0]["variants"]
    poster = payload_to_post({"data": tweet, "includes": page["includes"]})["media"]
    assert poster == [
        {
            "url": "https://pbs.twimg.com/ext_tw_video_thumb/1558552952549277696/pu/img/"
            "7VaQu-AvReI8RHkv.jpg",
            "kind": "image",
        }
    ]


def test_a_repost_carries_the_whole_original() -> None:
    original = payload(0)["includes"]["tweets"][0]
    repost = {
        "data": {
            "id": "9",
            "author_id": "4602771083",
            "created_at": "2021-04-01T16:00:00.000Z",
            "text": "RT @Manie_DS: cut short…",
            "referenced_tweets": [{"type": "retweeted", "id": original["id"]}],
        },
        "includes": {"tweets": [original], "users": payload(0)["includes"]["users"]},
    }
    post = payload_to_post(repost)
    assert post["repost_of"] == f"x:{original['id']}"
    assert post["text"] == original["text"]
    assert post["author"]["id"] == "x:4602771083"


def test_payloads_without_what_a_post_needs_are_malformed() -> None:
    bad_payloads: list[dict[str, Any]] = [
        {"data": {"id": "1"}},
        {"data": {"id": "1", "author_id": "2"}},
        {"data": []},
    ]
    for bad in bad_payloads:
        with pytest.raises(MalformedEvent):
            payload_to_post(bad)


def test_lines_are_framed_as_they_arrive_and_keep_alives_dropped() -> None:
    decoder = LineDecoder(max_line=64)
    assert list(decoder.feed(b'{"a": 1}\r\n\r\n{"b"')) == [b'{"a": 1}']
    assert list(decoder.feed(b": 2}\n\r\n")) == [b'{"b": 2}']
    assert list(decoder.feed(b"x" * 100)) == []
    assert list(decoder.feed(b"yyy\n{}\n")) == [None, b"{}"]
    assert list(decoder.feed(b'{"cut')) == []
    assert decoder.rest() == b'{"cut'
    assert decoder.rest() == b""


def test_the_truncated_recording_has_one_line_that_is_not_json() -> None:
    broken = []
    for line in lines("twarc_csv_streaming_output_with_error.jsonl"):
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError:
            broken.append(line)
    assert broken == [b'{"data": {"author_id": "1021159080151404544"']


def test_rules_plan_adds_the_missing_and_deletes_the_unlisted() -> None:
    current: list[dict[str, Any]] = [
        {"id": "1", "value": "cat has:images", "tag": "cats with images"},
        {"id": "2", "value": "dog", "tag": None},
        {"id": "3", "value": "tostones recipe"},
    ]
    wanted = [Rule("cat has:images", "cats with images"), Rule("dog", "dogs"), Rule("bird")]
    plan = plan_rules(current, wanted)
    assert plan.add == (Rule("dog", "dogs"), Rule("bird"))
    assert plan.delete == ("2", "3")
    assert plan_rules(current[:1], wanted[:1]) == plan_rules([], [])


def test_rules_files(tmp_path: Path) -> None:
    good = tmp_path / "rules.yaml"
    good.write_text('- cat has:images\n- {value: "#example -is:retweet", tag: example}\n')
    assert read_rules(good) == [Rule("cat has:images"), Rule("#example -is:retweet", "example")]
    for text, problem in (
        ("value: x\n", "expected a list"),
        ("- {tag: t}\n", "rule 1: expected a value"),
        ("- a\n- a\n", "rule 2: 'a' is listed twice"),
        ("- [unclosed\n", "cannot read"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(RuleFileError, match=problem):
            read_rules(bad)


def test_the_pace_x_asks_for_each_kind_of_error() -> None:
    pace = Pace()

    def wait(reason: str, attempt: int, retry_after: float | None = None) -> float:
        error = SourceUnavailable("x", reason=reason, retry_after=retry_after)
        waited = pace.wait(error, attempt).retry_after
        assert waited is not None
        return waited

    assert [wait("disconnected", n) for n in (0, 1, 2, 63, 64, 100)] == [
        0.25,
        0.5,
        0.75,
        16.0,
        16.0,
        16.0,
    ]
    assert [wait("http_503", n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 320, 320]
    assert [wait("rate_limited", n) for n in range(3)] == [60, 120, 240]
    assert wait("rate_limited", 0, retry_after=900.0) == 900.0  # until the limit resets


def recorded_payloads() -> list[dict[str, Any]]:
    """Every post payload of the recordings, the search page's as the stream would send it."""
    streamed = []
    for name in ("twarc_csv_streaming_output.jsonl", "twarc_csv_streaming_output_with_error.jsonl"):
        for line in lines(name):
            try:
                streamed.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # the recording's truncated line
    page = orjson.loads(lines("twarc_csv_media_tweet.jsonl")[0])
    paged = [{"data": tweet, "includes": page["includes"]} for tweet in page["data"]]
    return [p for p in [*streamed, *paged] if "data" in p]


@given(st.sampled_from(recorded_payloads()).flatmap(mutated))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_of_a_recorded_payload_is_a_post_or_malformed(payload: Any) -> None:
    if isinstance(payload, dict) and "data" in payload:  # what the connector adapts
        adapted_or_malformed(lambda: payload_to_post(payload))


DEEP = orjson.loads(b"[" * 1000 + b"]" * 1000)


@pytest.mark.parametrize(
    "change",
    [
        {"matching_rules": [{"id": DEEP, "tag": DEEP}]},
        {"matching_rules": 7},
        {"includes": {"users": [{"id": DEEP}]}},
        {"includes": {"media": [{"media_key": "3_1377650087799754753", "url": 7}]}},
        {"data": {**payload(0)["data"], "lang": 7, "note_tweet": {"text": DEEP}}},
        {"data": {**payload(0)["data"], "created_at": "9999-12-31T23:59:59-12:00"}},
        {"data": {**payload(0)["data"], "referenced_tweets": [{"type": DEEP, "id": "1"}]}},
    ],
)
def test_hostile_values_make_a_valid_post_or_a_malformed_payload(change: dict[str, Any]) -> None:
    adapted_or_malformed(lambda: payload_to_post({**payload(0), **change}))


@pytest.mark.parametrize(
    "current",
    [
        [{"id": "1"}],
        [7],
        [{"id": "1", "value": "cat", "tag": ["unhashable"]}],
        [{"id": DEEP, "value": "cat"}],
        {"id": "1"},
    ],
)
def test_rules_in_place_that_are_no_list_of_rules_are_a_bad_answer(current: Any) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        plan_rules(current, [Rule("cat")])
    assert caught.value.reason == "bad_response"
