"""The X connector against a local X API replaying recorded filtered-stream output."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson

from postwatch.connectors.x import Pace, XConnector
from postwatch.settings import Settings
from tests.integration.connectors.harness import metric, posts, running, start_process, stop, until
from tests.integration.connectors.x_server import STREAM, TOKEN, TRUNCATED, XReplay
from tests.local_server import served

QUICK = Pace(
    network_step=0.05,
    network_max=0.2,
    http_initial=0.5,
    http_max=1.0,
    rate_limited_initial=1.0,
    rate_limited_max=2.0,
)


def recorded_ids() -> set[str]:
    payloads = [orjson.loads(line) for line in STREAM.read_bytes().splitlines() if line.strip()]
    return {f"x:{p['data']['id']}" for p in payloads if "data" in p}


def test_the_recorded_stream_arrives_with_authors_and_media_and_bad_lines_are_counted(
    settings: Settings,
) -> None:
    expected = recorded_ids()
    assert len(expected) == 7  # eight posts, the last one twice

    async def scenario() -> None:
        server = XReplay(recordings=[STREAM, TRUNCATED], refuse=[503, 429], reset_in=3.0)
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-x1"
            labels = {"connector": "x", "instance": name}
            connector = XConnector(TOKEN, url=base, instance=name, pace=QUICK)
            async with running(settings, connector):
                got = await posts(settings, count=7)
                await until(
                    lambda: (
                        metric("postwatch_connector_skipped_total", reason="not_json", **labels)
                        == 1
                    )
                )
        assert Counter(p["id"] for p in got) == Counter(expected)
        by_id = {p["id"]: p for p in got}
        fury = by_id["x:1377650090978992134"]
        assert fury["author"] == {
            "id": "x:4602771083",
            "handle": "blackheart_265",
            "display_name": "Endangered Species",
        }
        assert fury["media"] == [
            {"url": "https://pbs.twimg.com/media/Ex5ldKwXEAEnEnI.jpg", "kind": "image"}
        ]
        assert fury["quote_of"] == "x:1377640162566496258"
        assert by_id["x:1377650387579248643"]["media"] == [
            {"url": "https://pbs.twimg.com/media/Ex5lubjXAAQm1WE.jpg", "kind": "image"}
        ]
        assert by_id["x:1377650459033280516"]["author"]["handle"] == "courtney_fromm"
        query = server.stream_queries[0]
        assert set(query["expansions"].split(",")) >= {"author_id", "attachments.media_keys"}
        assert {"url", "variants"} <= set(query["media.fields"].split(","))
        assert "entities" in query["tweet.fields"].split(",")
        # a 503 is followed by the pace X asks after HTTP errors, not the runtime's quick
        # one; a 429 waits until the limit resets, longer than that pace's 2 s
        (unavailable, first), (limited, second), (ok, third) = server.connected_at[:3]
        assert (unavailable, limited, ok) == (503, 429, 200)
        assert second - first >= 0.5
        assert third - second >= 2.9
        skipped = "postwatch_connector_skipped_total"
        assert metric(skipped, reason="stream_error", **labels) == 1  # operational-disconnect
        assert metric(skipped, reason="duplicate", **labels) == 8
        assert metric("postwatch_connector_errors_total", reason="http_503", **labels) == 1
        assert metric("postwatch_connector_errors_total", reason="rate_limited", **labels) == 1
        assert metric("postwatch_connector_errors_total", reason="disconnected", **labels) >= 2
        assert metric("postwatch_connector_posts_total", **labels) == 7

    asyncio.run(scenario())


DEEP = b"[" * 1000 + b"]" * 1000
"""An array 1000 levels deep: more than Python's `str` and `repr` go through."""


def _hostile_lines() -> list[bytes]:
    first = orjson.loads(STREAM.read_bytes().splitlines()[0])

    def changed(native: str, **data: object) -> bytes:
        payload = {**first, "data": {**first["data"], "id": native, **data}}
        return orjson.dumps(payload).replace(b'"<deep>"', DEEP)

    return [
        b'{"errors": 5}',
        b'{"errors": [{"title": ' + DEEP + b"}]}",
        orjson.dumps({**first, "matching_rules": [{"id": "<deep>"}]}).replace(b'"<deep>"', DEEP),
        changed("1", lang=7),
        changed("2", text="<deep>"),
        changed("3", created_at="9999-12-31T23:59:59-12:00"),
        changed("4", author_id="<deep>"),
    ]


def test_hostile_lines_are_counted_and_every_post_after_them_arrives(
    settings: Settings, tmp_path: Path
) -> None:
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(b"\n".join(_hostile_lines()) + b"\n" + STREAM.read_bytes())

    async def scenario() -> None:
        server = XReplay(recordings=[hostile])
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-x3"
            connector = XConnector(TOKEN, url=base, instance=name, pace=QUICK)
            async with running(settings, connector) as task:
                got = await posts(settings, count=9)
                assert not task.done()
        assert Counter(p["id"] for p in got) == Counter([*recorded_ids(), "x:1", "x:2"])
        by_id = {p["id"]: p for p in got}
        assert by_id["x:1"]["lang"] is None
        assert by_id["x:2"]["text"] == ""
        labels = {"connector": "x", "instance": name}
        skipped = "postwatch_connector_skipped_total"
        assert metric(skipped, reason="stream_error", **labels) == 3  # with the recording's
        assert metric(skipped, reason="bad_timestamp", **labels) == 1
        assert metric(skipped, reason="bad_post", **labels) == 1

    asyncio.run(scenario())


def test_rules_are_synced_from_a_file_and_a_restart_repeats_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {value: cat has:images, tag: cats with images}\n- dog has:media\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("- cat has:images\n- 'from:example ('\n")

    async def scenario() -> None:
        server = XReplay(
            recordings=[STREAM, STREAM],  # the second as X replays with backfill_minutes
            close_after=False,
            rules=[
                {"id": "1", "value": "cat has:images", "tag": "cats with images"},
                {"id": "2", "value": "tostones recipe"},
            ],
        )
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-x2"
            args = ["x", "--url", base, "--backfill-minutes", "2", "--name", name]
            env = {"POSTWATCH_X_BEARER_TOKEN": TOKEN}
            log = tmp_path / "connector.log"
            first = start_process(settings, log, *args, "--rules", str(rules), env=env)
            assert len(await posts(settings, count=7)) == 7
            assert server.rule_posts == [
                {"add": [{"value": "dog has:media"}], "dry_run": True},
                {"delete": {"ids": ["2"]}},
                {"add": [{"value": "dog has:media"}]},
            ]
            assert [(r["value"], r.get("tag")) for r in server.rules] == [
                ("cat has:images", "cats with images"),
                ("dog has:media", None),
            ]
            assert await stop(first) == 0
            second = start_process(settings, log, *args, "--rules", str(rules), env=env)
            await until(lambda: len(server.stream_queries) == 2, wait=30)
            got = await posts(settings, count=8, wait=6)
            assert await stop(second) == 0
            assert len(server.rule_posts) == 3  # nothing to change the second time
            third = start_process(settings, log, *args, "--rules", str(broken), env=env)
            code = await asyncio.to_thread(third.wait, 30)
        assert all(q["backfill_minutes"] == "2" for q in server.stream_queries)
        assert Counter(p["id"] for p in got) == Counter(recorded_ids()), log.read_text()
        # a refused rule stops the connector before anything changed
        assert code == 1
        assert "UnprocessableEntity unbalanced from:example (" in log.read_text()
        retagged = {"value": "cat has:images"}  # without its tag: deleted and added again
        assert server.rule_posts[3:] == [
            {"add": [retagged, {"value": "from:example ("}], "dry_run": True}
        ]
        assert len(server.rules) == 2

    asyncio.run(scenario())
