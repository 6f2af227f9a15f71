"""The Bluesky connector against a local Jetstream replaying the recorded v1 events."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from postwatch.connectors.bluesky import BlueskyConnector
from postwatch.settings import Settings
from tests.integration.connectors import harness
from tests.integration.connectors.jetstream_server import JetstreamReplay, recorded_events

POST = "app.bsky.feed.post"
REWIND_US = 5_000_000


def post_events(events: list[str]) -> list[dict[str, Any]]:
    docs = [json.loads(e) for e in events]
    return [d for d in docs if d["kind"] == "commit" and d["commit"]["collection"] == POST]


def created_ids(events: list[str]) -> Counter[str]:
    """What the source defines as new posts: the post records created in the recording."""
    return Counter(
        f"bluesky:at://{d['did']}/{POST}/{d['commit']['rkey']}"
        for d in post_events(events)
        if d["commit"]["operation"] == "create"
    )


IMAGES: dict[str, Any] = {
    "schema": "postwatch.post/1",
    "id": "bluesky:at://did:plc:6aw7u7xjbaiznddugigmdhvc/app.bsky.feed.post/3mptbxs3hq22j",
    "source": "bluesky",
    "url": "https://bsky.app/profile/did:plc:6aw7u7xjbaiznddugigmdhvc/post/3mptbxs3hq22j",
    "created_at": "2026-07-04T14:37:36.557Z",
    "author": {"id": "bluesky:did:plc:6aw7u7xjbaiznddugigmdhvc"},
    "text": "Вечерок с Аватаром, дошли и в мульте до Тоф 😍🔥\n\nТакая крутышка, я не могу :",
    "lang": "ru",
    "links": [],
    "hashtags": [],
    "media": [
        {
            "url": "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:6aw7u7xjbaiznddugigmdhvc/"
            "bafkreicwsq23gkygrgpijv7ocssxdyjokfv3quss3f2dg4csds3jpeqkwe@jpeg",
            "kind": "image",
        }
    ],
    "reply_to": None,
    "repost_of": None,
}
FACETS: dict[str, Any] = {
    "schema": "postwatch.post/1",
    "id": "bluesky:at://did:plc:ynfp6wddjqpl44gordpsqkuw/app.bsky.feed.post/3mptbyo7tas2u",
    "source": "bluesky",
    "url": "https://bsky.app/profile/did:plc:ynfp6wddjqpl44gordpsqkuw/post/3mptbyo7tas2u",
    "created_at": "2026-07-04T14:38:06.071Z",
    "author": {"id": "bluesky:did:plc:ynfp6wddjqpl44gordpsqkuw"},
    "text": '"Behind them, Timmi and Wanky\'u follow silently but as fast as possible."\n\n'
    "www.tumblr.com/tempo-tales/...\n\n#talesatwonderworld\n#balanwonderworldoc",
    "lang": "es",
    "links": [
        "https://www.tumblr.com/tempo-tales/765681292369166336/"
        "behind-them-timmi-and-wankyu-follow-silently-but?source=share"
    ],
    "hashtags": ["talesatwonderworld", "balanwonderworldoc"],
    "media": [
        {
            "url": "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:ynfp6wddjqpl44gordpsqkuw/"
            "bafkreidrnwt23f7wy7fyfex5acdkxh62wsgpg245ame4c4rogfwb3upyaa@jpeg",
            "kind": "image",
        }
    ],
    "reply_to": None,
    "repost_of": None,
}
REPLY: dict[str, Any] = {
    "schema": "postwatch.post/1",
    "id": "bluesky:at://did:plc:o2rolxey6s5k7d4lxcz3inl4/app.bsky.feed.post/3mptbyp7lu223",
    "source": "bluesky",
    "url": "https://bsky.app/profile/did:plc:o2rolxey6s5k7d4lxcz3inl4/post/3mptbyp7lu223",
    "created_at": "2026-07-04T14:38:07.112Z",
    "author": {"id": "bluesky:did:plc:o2rolxey6s5k7d4lxcz3inl4"},
    "text": "이쁘시네용~~~",
    "lang": "ko",
    "links": [],
    "hashtags": [],
    "media": [],
    "reply_to": "bluesky:at://did:plc:i5y2f3gtpjxs3qg6fwgb6jb4/app.bsky.feed.post/3mpt7u2vlgs2c",
    "repost_of": None,
}

MALFORMED: list[str | bytes] = [
    "{not json",
    b"\x00\xff\x00",
    '{"kind": "commit", "did": "did:plc:x"}',
    json.dumps(
        {
            "did": "did:plc:x",
            "time_us": 1783175888000000,
            "kind": "commit",
            "commit": {"operation": "create", "collection": POST, "rkey": "r", "record": 7},
        }
    ),
]


def test_every_post_arrives_mapped_and_malformed_frames_are_counted(settings: Settings) -> None:
    async def scenario() -> None:
        events = recorded_events()
        replay = JetstreamReplay(events, inject=list(MALFORMED))
        async with replay.serving() as url:
            name = f"{settings.topic_prefix}-b1"
            async with harness.running(settings, BlueskyConnector(url, instance=name)):
                got = await harness.posts(settings, count=17)
                deleted = await harness.deletions(settings, count=1)
        assert Counter(p["id"] for p in got) == created_ids(events)
        assert len(got) == 17
        by_id = {p["id"]: {k: v for k, v in p.items() if k != "observed_at"} for p in got}
        assert by_id[IMAGES["id"]] == IMAGES
        assert by_id[FACETS["id"]] == FACETS
        assert by_id[REPLY["id"]] == REPLY
        assert deleted == [
            "bluesky:at://did:plc:4smmjsqf6l5jkzczvw6vsrqc/app.bsky.feed.post/3mpt73z3ejc2p"
        ]
        assert replay.queries[0]["wantedCollections"] == [POST]
        labels = {"connector": "bluesky", "instance": name}
        skipped = "postwatch_connector_skipped_total"
        assert harness.metric(skipped, reason="not_json", **labels) == 2
        assert harness.metric(skipped, reason="bad_event", **labels) == 1
        assert harness.metric(skipped, reason="bad_record", **labels) == 1
        assert harness.metric(skipped, reason="not_a_post", **labels) == 2  # identity, account
        assert harness.metric("postwatch_connector_posts_total", **labels) == 17

    asyncio.run(scenario())


def _post_event(rkey: str, record: Any, **commit: Any) -> str:
    event = {
        "did": "did:plc:hostile",
        "time_us": 1783175888000000,
        "kind": "commit",
        "commit": {
            "operation": "create",
            "collection": POST,
            "rkey": rkey,
            "cid": f"cid-{rkey}",
            "record": record,
            **commit,
        },
    }
    return json.dumps(event).replace('"<deep>"', DEEP)


DEEP = "[" * 1000 + "]" * 1000
"""An array 1000 levels deep: more than Python's `str` and `repr` go through."""
HOSTILE: list[str | bytes] = [
    _post_event("far", {"text": "far", "createdAt": "9999-12-31T23:59:59-12:00"}),
    _post_event("object", {"text": "object", "langs": {"en": True}}),
    _post_event("integer", {"text": "integer", "langs": 7}),
    _post_event("deep", {"text": "deep", "createdAt": "<deep>"}),
    _post_event("cid", {"text": "cid"}, cid="<deep>"),
    _post_event("op", {"text": "x"}, operation="<deep>"),
    _post_event("facets", {"text": "x", "facets": 7}),
    json.dumps({"did": "did:plc:x", "time_us": 2**63 - 1, "kind": "commit", "commit": {}}),
    _post_event("kind", {"text": "x"}).replace('"commit"', DEEP, 1),
]


def test_hostile_events_are_counted_and_every_post_after_them_arrives(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        events = recorded_events()
        replay = JetstreamReplay(events, inject=list(HOSTILE))
        async with replay.serving() as url:
            name = f"{settings.topic_prefix}-b6"
            async with harness.running(settings, BlueskyConnector(url, instance=name)) as task:
                got = await harness.posts(settings, count=22)
                assert not task.done()
        assert Counter(p["id"] for p in got) == created_ids(events) + Counter(
            f"bluesky:at://did:plc:hostile/{POST}/{rkey}"
            for rkey in ("far", "object", "integer", "deep", "cid")
        )
        by_text = {p["text"]: p for p in got}
        seen = "2026-07-04T14:38:08.000Z"  # Jetstream's time, in place of the record's
        assert (by_text["far"]["created_at"], by_text["deep"]["created_at"]) == (seen, seen)
        assert by_text["object"]["lang"] is by_text["integer"]["lang"] is None
        labels = {"connector": "bluesky", "instance": name}
        skipped = "postwatch_connector_skipped_total"
        assert harness.metric(skipped, reason="bad_event", **labels) == 2
        assert harness.metric(skipped, reason="bad_record", **labels) == 1
        assert (
            harness.metric(skipped, reason="not_a_post", **labels) == 3
        )  # identity, account, the deep kind

    asyncio.run(scenario())


def test_a_cut_mid_stream_resumes_from_the_rewound_cursor_without_repeats(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        events = recorded_events()
        replay = JetstreamReplay(events, cut_at=40, gap=30)
        async with replay.serving() as url:
            name = f"{settings.topic_prefix}-b2"
            async with harness.running(settings, BlueskyConnector(url, instance=name)):
                got = await harness.posts(settings, count=17)
        assert Counter(p["id"] for p in got) == created_ids(events)
        assert len(replay.queries) == 2
        resumed_from = int(replay.queries[1]["cursor"][0]) + REWIND_US
        assert resumed_from in {d["time_us"] for d in post_events(events[:40])}
        labels = {"connector": "bluesky", "instance": name}
        assert harness.metric("postwatch_connector_reconnects_total", **labels) == 1
        assert harness.metric("postwatch_connector_skipped_total", reason="duplicate", **labels) > 0

    asyncio.run(scenario())


def test_a_restarted_process_resumes_from_the_stored_cursor(
    settings: Settings, tmp_path: Path
) -> None:
    async def scenario() -> None:
        events = recorded_events()
        replay = JetstreamReplay(events, hold_at=60)
        async with replay.serving() as url:
            name = f"{settings.topic_prefix}-b3"
            port = harness.free_port()
            args = ["bluesky", "--url", url, "--name", name, "--metrics-port", str(port)]
            log = tmp_path / "connector.log"
            before = len(created_ids(events[:60]))
            first = harness.start_process(settings, log, *args)
            assert len(await harness.posts(settings, count=before)) == before
            assert await harness.stop(first) == 0
            stored = await harness.cursor(settings, name)
            assert stored is not None
            assert stored["time_us"] == max(d["time_us"] for d in post_events(events[:60]))
            replay.position, replay.hold_at = 80, None  # twenty events while it is down
            second = harness.start_process(settings, log, *args)
            got = await harness.posts(settings, count=17)
            scraped = await asyncio.to_thread(harness.scrape, port)
            assert await harness.stop(second) == 0
        assert Counter(p["id"] for p in got) == created_ids(events), log.read_text()
        assert int(replay.queries[1]["cursor"][0]) == stored["time_us"] - REWIND_US
        # what the rewound replay repeated was read and dropped, as the metrics tell
        labels = f'connector="bluesky",instance="{name}"'
        duplicates = f'postwatch_connector_skipped_total{{{labels},reason="duplicate"}}'
        assert float(_sample(scraped, duplicates)) >= before

    asyncio.run(scenario())


def test_only_the_wanted_accounts_are_followed(settings: Settings) -> None:
    wanted = ["did:plc:u4lmvw4wwzaql3z5kcf3r7h4", "did:plc:6aw7u7xjbaiznddugigmdhvc"]

    async def scenario() -> None:
        replay = JetstreamReplay(recorded_events())
        async with replay.serving() as url:
            name = f"{settings.topic_prefix}-b4"
            async with harness.running(settings, BlueskyConnector(url, dids=wanted, instance=name)):
                got = await harness.posts(settings, count=4)
        assert sorted(p["author"]["id"] for p in got) == sorted(
            ["bluesky:did:plc:u4lmvw4wwzaql3z5kcf3r7h4"] * 3
            + ["bluesky:did:plc:6aw7u7xjbaiznddugigmdhvc"]
        )
        assert replay.queries[0]["wantedDids"] == wanted

    asyncio.run(scenario())


def _sample(exposition: str, name: str) -> str:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return line.split()[-1]
    raise AssertionError(f"{name} not in the metrics")
