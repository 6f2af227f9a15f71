"""The Mastodon connector against a local server replaying the recorded streaming examples."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

from postwatch.connectors.mastodon import MastodonConnector, StreamSpec
from postwatch.connectors.mastodon.client import rewound
from postwatch.settings import Settings
from tests.integration.connectors.harness import (
    cursor,
    deletions,
    metric,
    posts,
    running,
    start_process,
    stop,
)
from tests.integration.connectors.mastodon_server import MastodonReplay, recorded_frames
from tests.local_server import served

DOMAIN = "mastodon.social"


def status(native: str) -> str:
    return f"mastodon:{DOMAIN}:{native}"


# every status version in the recording, once: repeats across its sections are dropped
EXPECTED = Counter(
    status(n)
    for n in (
        "108914327388663283",
        "109348677773283527",
        "108914354907984653",
        "109348684737626801",
        "108914398911648589",
        "108914430312582020",  # as published
        "108914430312582020",  # as edited
    )
)

FREON: dict[str, Any] = {
    "schema": "postwatch.post/1",
    "id": status("108914327388663283"),
    "source": "mastodon",
    "url": "https://letsalllovela.in/objects/e9cebb0c-7c75-414f-9608-20b5628e52d7",
    "created_at": "2022-08-30T23:05:46.839Z",
    "author": {
        "id": status("464472"),
        "handle": "freon@letsalllovela.in",
        "display_name": "freon",
    },
    "text": "@disarray glad i was able to help",
    "lang": None,
    "links": [],
    "hashtags": [],
    "media": [],
    "reply_to": status("108914298452377720"),
    "repost_of": None,
}
CHRISMO: dict[str, Any] = {
    "schema": "postwatch.post/1",
    "id": status("109348684737626801"),
    "source": "mastodon",
    "url": "https://ruby.social/@chrismo/109348684454557541",
    "created_at": "2022-11-15T16:08:30.000Z",
    "edited_at": "2022-11-15T16:10:43.000Z",
    "author": {"id": status("795442"), "handle": "chrismo@ruby.social", "display_name": "chrismo"},
    "text": "#musicTuesday\n\nHere's a solo #piano track of mine called Gravity Assist\n\n"
    "#neoclassical (#jazz ish)\n\n"
    "https://cstudios.bandcamp.com/track/celestia-gravity-assist-no-19-var-2",
    "lang": "en",
    "links": ["https://cstudios.bandcamp.com/track/celestia-gravity-assist-no-19-var-2"],
    "hashtags": ["MUSICTUESDAY", "piano", "neoclassical", "jazz"],
    "media": [],
    "reply_to": None,
    "repost_of": None,
}
TRWNH_EDITED: dict[str, Any] = {
    "schema": "postwatch.post/1",
    "id": status("108914430312582020"),
    "source": "mastodon",
    "url": "https://mastodon.social/@trwnh/108914430312582020",
    "created_at": "2022-08-30T23:32:12.006Z",
    "author": {
        "id": status("14715"),
        "handle": "trwnh@mastodon.social",
        "display_name": "infinite love ⴳ",
    },
    "text": "#test but edited",
    "lang": "en",
    "links": [],
    "hashtags": ["test"],
    "media": [],
    "reply_to": None,
    "repost_of": None,
}

MALFORMED = [
    b"event: update\ndata: {not json\n\n",
    b'event: update\ndata: {"id": "1"}\n\n',
    b"event: status.update\ndata: [1, 2]\n\n",
    b"event: delete\ndata: \n\n",
]


def without_observed(post: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in post.items() if k != "observed_at"}


def connector(url: str, name: str) -> MastodonConnector:
    return MastodonConnector(url, StreamSpec.parse("public"), domain=DOMAIN, instance=name)


async def replayed(settings: Settings, server: MastodonReplay, name: str) -> list[dict[str, Any]]:
    """The posts of a connector named `name` run against `server` until the seven posts of
    the recording have arrived."""
    async with served(server.app()) as url, running(settings, connector(url, name)):
        return await posts(settings, count=7)


def test_every_post_arrives_mapped_and_malformed_frames_are_counted(settings: Settings) -> None:
    async def scenario() -> None:
        server = MastodonReplay(recorded_frames(), inject=list(MALFORMED))
        async with served(server.app()) as url:
            name = f"{settings.topic_prefix}-m1"
            async with running(settings, connector(url, name)):
                got = await posts(settings, count=7)
                deleted = await deletions(settings, count=3)
        assert Counter(p["id"] for p in got) == EXPECTED
        by_text = {p["text"]: without_observed(p) for p in got}
        assert by_text[FREON["text"]] == FREON
        assert by_text[CHRISMO["text"]] == CHRISMO
        assert by_text[TRWNH_EDITED["text"]] == TRWNH_EDITED
        assert by_text["edited"]["edited_at"] == "2022-11-15T16:07:29.023Z"
        assert all(p["observed_at"] for p in got)
        assert sorted(deleted) == sorted(
            status(n) for n in ("107214471804101576", "108914398911648589", "108914430312582020")
        )
        labels = {"connector": "mastodon", "instance": name}
        skipped = "postwatch_connector_skipped_total"
        assert metric(skipped, reason="not_json", **labels) == 1
        assert metric(skipped, reason="bad_status", **labels) == 2
        assert metric(skipped, reason="bad_delete", **labels) == 1
        # notifications, announcements, filters_changed, the conversation
        assert metric(skipped, reason="not_a_post", **labels) == 7
        assert metric("postwatch_connector_posts_total", **labels) == 7
        assert server.connections == 1
        assert server.timeline_queries == []

    asyncio.run(scenario())


def _update(native: str, **changes: Any) -> bytes:
    """An `update` frame of the recording's first status, with another id and `changes`."""
    first = recorded_frames()[0].decode().split("data: ", 1)[1]
    data = json.dumps({**json.loads(first), "id": native, **changes})
    return f"event: update\ndata: {data}\n\n".replace('"<deep>"', DEEP).encode()


DEEP = "[" * 1000 + "]" * 1000
"""An array 1000 levels deep: more than Python's `str` and `repr` go through."""
BOOSTED = json.loads(recorded_frames()[0].decode().split("data: ", 1)[1])
HOSTILE = [
    _update("1", content="<p>x<![ y</p>"),  # Python's HTML parser asserted on it
    _update("²³"),
    _update("3", language=7),
    _update("4", content="<deep>", reblog=BOOSTED),
    _update("5", content="<deep>"),
    _update("6", created_at="9999-12-31T23:59:59-12:00"),
    _update("7", edited_at="<deep>"),
    _update("8", account="<deep>"),
]


def test_hostile_statuses_are_counted_and_every_post_after_them_arrives(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        server = MastodonReplay(recorded_frames(), inject=list(HOSTILE))
        async with served(server.app()) as url:
            name = f"{settings.topic_prefix}-m5"
            async with running(settings, connector(url, name)) as task:
                got = await posts(settings, count=11)
                assert not task.done()
        assert Counter(p["id"] for p in got) == EXPECTED + Counter(
            status(n) for n in ("1", "²³", "3", "4")
        )
        by_id = {p["id"]: p for p in got}
        assert by_id[status("1")]["text"] == "x"
        assert by_id[status("3")]["lang"] is None
        assert by_id[status("4")]["repost_of"] == FREON["id"]
        labels = {"connector": "mastodon", "instance": name}
        skipped = "postwatch_connector_skipped_total"
        assert metric(skipped, reason="bad_status", **labels) == 2
        assert metric(skipped, reason="bad_timestamp", **labels) == 2

    asyncio.run(scenario())


def test_a_cut_mid_stream_is_filled_from_the_timeline_without_repeats(settings: Settings) -> None:
    async def scenario() -> None:
        # half of the second frame, then the connection drops; eight frames happen meanwhile
        server = MastodonReplay(recorded_frames(), cut_at=1, gap=8)
        name = f"{settings.topic_prefix}-m2"
        got = await replayed(settings, server, name)
        assert Counter(p["id"] for p in got) == EXPECTED
        assert server.connections == 2
        assert server.timeline_queries[0]["since_id"] == rewound("108914327388663283", 300)
        labels = {"connector": "mastodon", "instance": name}
        assert metric("postwatch_connector_reconnects_total", **labels) == 1
        stored = await cursor(settings, name)
        assert stored is not None
        assert stored["since_id"] == "109348684737626801"

    asyncio.run(scenario())


def test_a_429_is_waited_out_as_long_as_the_server_asks(settings: Settings) -> None:
    async def scenario() -> None:
        server = MastodonReplay(recorded_frames(), refuse=1)
        name = f"{settings.topic_prefix}-m4"
        got = await replayed(settings, server, name)
        assert Counter(p["id"] for p in got) == EXPECTED
        # the test backoff never waits more than 0.2 s: the second second is the server's
        assert server.connected_at[1] - server.connected_at[0] >= 1.0
        labels = {"connector": "mastodon", "instance": name}
        errors = "postwatch_connector_errors_total"
        assert metric(errors, reason="rate_limited", **labels) == 1

    asyncio.run(scenario())


def test_a_restarted_process_resumes_from_the_stored_cursor(
    settings: Settings, tmp_path: Path
) -> None:
    async def scenario() -> None:
        server = MastodonReplay(recorded_frames(), hold_at=10)
        async with served(server.app()) as url:
            name = f"{settings.topic_prefix}-m3"
            args = ["mastodon", "--url", url, "--domain", DOMAIN, "--name", name]
            log = tmp_path / "connector.log"
            first = start_process(settings, log, *args)
            assert len(await posts(settings, count=3)) == 3
            assert await stop(first) == 0
            stored = await cursor(settings, name)
            assert stored is not None
            assert stored["since_id"] == "109348677773283527"
            server.publish_until(11)  # an edit happens while the connector is down
            server.hold_at = None
            second = start_process(settings, log, *args)
            got = await posts(settings, count=7)
            assert await stop(second) == 0
        assert Counter(p["id"] for p in got) == EXPECTED, log.read_text()
        assert server.connections == 2
        assert server.timeline_queries[0]["since_id"] == rewound("109348677773283527", 300)

    asyncio.run(scenario())


def test_backfill_follows_next_pages_on_the_instance_only(settings: Settings) -> None:
    """The next page of the timeline carries the access token: a `Link` header that names
    another server is not followed."""

    async def backfill(next_origin: str | None) -> tuple[MastodonReplay, list[str]]:
        elsewhere: list[str] = []

        async def record(request: web.Request) -> web.Response:
            elsewhere.append(request.headers.get("Authorization", ""))
            return web.json_response([])

        other = web.Application()
        other.router.add_get("/{path:.*}", record)
        async with served(other) as other_url:
            server = MastodonReplay(recorded_frames(), cut_at=1, gap=8)
            server.next_origin = other_url if next_origin == "other" else None
            async with served(server.app()) as url:
                name = f"{settings.topic_prefix}-m5-{next_origin}"
                paged = MastodonConnector(
                    url,
                    StreamSpec.parse("public"),
                    domain=DOMAIN,
                    instance=name,
                    token="t0ken",  # noqa: S106 - a test token
                    page_limit=2,
                )
                async with running(settings, paged):
                    for _ in range(100):
                        if len(server.timeline_queries) > 1 or (
                            server.timeline_queries and elsewhere
                        ):
                            break
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(1.0)  # a next page would have been asked for by now
        return server, elsewhere

    async def scenario() -> None:
        same, elsewhere = await backfill(None)
        assert len(same.timeline_queries) > 1  # pages followed on the instance
        assert elsewhere == []
        other, elsewhere = await backfill("other")
        assert len(other.timeline_queries) == 1
        assert elsewhere == []  # no request, so no token, went to the other server

    asyncio.run(scenario())
