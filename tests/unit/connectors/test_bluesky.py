"""Bluesky: post records (facets, embeds, replies) to Post v1, and the subscribe URL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.connectors.base import MalformedEvent
from postwatch.connectors.bluesky.adapter import POST_COLLECTION, event_time, record_to_post
from postwatch.connectors.bluesky.client import subscribe_url
from tests.conftest import SHARED_DATA
from tests.mutations import adapted_or_malformed, mutated

EMBEDS = SHARED_DATA / "bluesky" / "embeds"
CORPUS = SHARED_DATA / "bluesky" / "corpus"
DID = "did:plc:hfgp6pj3akhqxntgqwramlbg"
SEEN = datetime(2026, 7, 4, 14, 38, 8, tzinfo=UTC)


def record_with_images() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (EMBEDS / "app_bsky_feed_post_record_with_images.extracted.json").read_text()
    )
    return loaded


def test_an_image_embed_gives_the_cdn_url_the_app_view_serves() -> None:
    post = record_to_post(DID, "3lnmbltm4j223", record_with_images(), SEEN)
    view = json.loads((EMBEDS / "idunno_feedViewPost_with_image_embed.extracted.json").read_text())
    fullsize = view["reply"]["root"]["embed"]["images"][0]["fullsize"]
    assert post["media"] == [
        {
            "url": fullsize,
            "kind": "image",
            "alt": "A cat loafing on the back for a sofa sticking his tongue out",
        }
    ]
    assert post["id"] == f"bluesky:at://{DID}/app.bsky.feed.post/3lnmbltm4j223"
    assert post["url"] == f"https://bsky.app/profile/{DID}/post/3lnmbltm4j223"
    assert post["created_at"] == "2025-04-25T03:25:41.979Z"
    assert post["text"] == "After his canines got removed he has resting melm face"
    assert post["lang"] == "en"


def test_images_under_a_quote_and_flattened_blob_refs() -> None:
    record = record_with_images()
    images = record.pop("embed")
    images["images"][0]["image"]["ref"] = "bafkreiflat"
    record["embed"] = {
        "$type": "app.bsky.embed.recordWithMedia",
        "record": {"record": {"uri": "at://did:plc:q/app.bsky.feed.post/1", "cid": "c"}},
        "media": images,
    }
    post = record_to_post(DID, "r", record, SEEN)
    assert [m["url"] for m in post["media"]] == [
        f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/bafkreiflat@jpeg"
    ]


def test_facets_give_links_hashtags_and_mentions_once_each() -> None:
    record = {
        "$type": "app.bsky.feed.post",
        "createdAt": "not a time",
        "text": "hi @bob #Tag #Tag example.org",
        "tags": ["extra"],
        "facets": [
            {"features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}]},
            {"features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Tag"}]},
            {"features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Tag"}]},
            {"features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org"}]},
        ],
        "embed": {
            "$type": "app.bsky.embed.external",
            "external": {"uri": "https://card.example/", "title": "t", "description": "d"},
        },
    }
    post = record_to_post("did:plc:me", "r", record, SEEN)
    assert post["links"] == ["https://example.org", "https://card.example/"]
    assert post["hashtags"] == ["Tag", "extra"]
    assert post["mentions"] == ["bluesky:did:plc:bob"]
    assert post["created_at"] == "2026-07-04T14:38:08.000Z"  # Jetstream's time instead
    assert post["lang"] is None


@pytest.mark.parametrize(
    "record",
    [
        "text",
        {"text": 5},
        {"text": "x", "facets": [{"features": "nope"}]},
        {"text": "x", "embed": {"$type": "app.bsky.embed.images", "images": [{"image": {}}]}},
    ],
)
def test_what_is_not_a_post_record_is_malformed(record: Any) -> None:
    with pytest.raises(MalformedEvent) as caught:
        record_to_post("did:plc:me", "r", record, SEEN)
    assert caught.value.reason == "bad_record"


def test_event_time_is_jetstreams_microseconds() -> None:
    assert event_time({"time_us": 1783175888085434}) == datetime(
        2026, 7, 4, 14, 38, 8, 85434, tzinfo=UTC
    )
    with pytest.raises(MalformedEvent):
        event_time({"time_us": "soon"})


def test_the_subscribe_url_asks_for_posts_accounts_and_a_cursor() -> None:
    url = subscribe_url(
        "wss://jetstream.example/subscribe?compress=false",
        ["app.bsky.feed.post"],
        ["did:plc:a", "did:plc:b"],
        1783175888085434,
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "jetstream.example", "/subscribe")
    assert parse_qs(parts.query) == {
        "compress": ["false"],
        "wantedCollections": ["app.bsky.feed.post"],
        "wantedDids": ["did:plc:a", "did:plc:b"],
        "cursor": ["1783175888085434"],
    }
    assert "cursor" not in subscribe_url("wss://j.example/subscribe", ["c"], [], None)


def test_a_created_at_beyond_year_9999_in_utc_gives_jetstreams_time() -> None:
    record = {"text": "x", "createdAt": "9999-12-31T23:59:59-12:00"}
    assert record_to_post(DID, "r", record, SEEN)["created_at"] == "2026-07-04T14:38:08.000Z"


@pytest.mark.parametrize(
    ("langs", "lang"),
    [({"en": True}, None), (7, None), ("en", None), ([7, "en"], None), ([], None), (["ru"], "ru")],
)
def test_langs_that_are_not_a_list_of_codes_give_no_language(langs: Any, lang: str | None) -> None:
    assert record_to_post(DID, "r", {"text": "x", "langs": langs}, SEEN)["lang"] == lang


@pytest.mark.parametrize("time_us", [2**63 - 1, -(2**63), 2**62])
def test_a_time_us_no_clock_can_show_is_malformed(time_us: int) -> None:
    with pytest.raises(MalformedEvent) as caught:
        event_time({"time_us": time_us})
    assert caught.value.reason == "bad_event"


def recorded_posts() -> list[dict[str, Any]]:
    events = [json.loads(line) for line in (CORPUS / "expected_v1.jsonl").read_text().splitlines()]
    return [e for e in events if e.get("commit", {}).get("collection") == POST_COLLECTION]


RECORDS = [e["commit"].get("record") for e in recorded_posts()] + [record_with_images()]


@given(st.sampled_from([r for r in RECORDS if r is not None]).flatmap(mutated))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_of_a_recorded_post_record_is_a_post_or_malformed(record: Any) -> None:
    post = adapted_or_malformed(lambda: record_to_post(DID, "r", record, SEEN))
    assert post is None or post["id"] == f"bluesky:at://{DID}/{POST_COLLECTION}/r"


@given(st.sampled_from(recorded_posts()).flatmap(mutated))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_of_a_recorded_event_has_a_time_or_is_malformed(event: Any) -> None:
    try:
        seen = event_time(event) if isinstance(event, dict) else None
    except MalformedEvent:
        return
    assert seen is None or seen.tzinfo is UTC
