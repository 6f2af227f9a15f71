"""The Telegram connector against a local t.me serving the recorded preview messages."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from postwatch.connectors.telegram import TelegramConnector
from postwatch.settings import Settings
from tests.integration.connectors import harness
from tests.integration.connectors.telegram_server import (
    TelegramReplay,
    edited,
    recorded_messages,
)
from tests.local_server import served
from tests.unit.connectors.test_telegram import SIGNED_EDITED

SERVICE = {1, 2, 3, 92}


def without_observed(post: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in post.items() if k != "observed_at"}


def _hostile_messages() -> dict[int, str]:
    """Copies of a recorded message under new ids, each with one hostile change."""
    plain = recorded_messages()["tchantest"][6]

    def copy(number: int, *changes: tuple[str, str]) -> str:
        html = plain.replace("tchantest/6", f"tchantest/{number}")
        for old, new in changes:
            assert old in html
            html = html.replace(old, new)
        return html

    deep = "<b>" * 5000 + "deep" + "</b>" * 5000
    return {
        300: copy(300, ('data-post="tchantest/300"', 'data-post="tchantest/²"')),
        301: copy(301, ('datetime="', 'datetime="9999-12-31T23:59:59-12:00" x="')),
        302: copy(302, ("Unsigned message", deep)),
        303: copy(303, ('href="https://t.me/tchantest/303"', 'href="http://[::1/303"')),
        304: copy(304),
    }


def test_hostile_messages_are_counted_and_the_others_arrive(settings: Settings) -> None:
    recorded = recorded_messages()["tchantest"]
    expected = {f"telegram:tchantest/{n}" for n in [*recorded, 302, 304] if n not in SERVICE}

    async def scenario() -> None:
        server = TelegramReplay(page_size=50)
        server.publish("tchantest", {**recorded, **_hostile_messages()})
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-t4"
            connector = TelegramConnector(["tchantest"], url=base, instance=name, interval=0.3)
            async with harness.running(settings, connector) as task:
                got = await harness.posts(settings, count=len(expected))
                assert not task.done()
        assert Counter(p["id"] for p in got) == Counter(expected)
        assert {p["id"]: p["text"] for p in got}["telegram:tchantest/302"] == "deep"
        labels = {"connector": "telegram", "instance": name}
        skipped = "postwatch_connector_skipped_total"
        assert harness.metric(skipped, reason="bad_message", **labels) >= 2  # every poll reads them
        assert harness.metric(skipped, reason="bad_timestamp", **labels) >= 1

    asyncio.run(scenario())


def test_every_recorded_message_arrives_mapped_and_service_messages_are_skipped(
    settings: Settings,
) -> None:
    recorded = recorded_messages()
    expected = {
        f"telegram:{channel}/{number}"
        for channel, messages in recorded.items()
        for number in messages
        if channel != "tchantest" or number not in SERVICE
    }

    async def scenario() -> None:
        server = TelegramReplay(page_size=50, refuse=1)
        for channel, messages in recorded.items():
            server.publish(channel, messages)
        server.publish("emptychan", {})
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-t1"
            channels = ["tchantest", "@CamaradosDeputados", "some_random_user", "emptychan", "gone"]
            asked = ["tchantest", "camaradosdeputados", "some_random_user", "emptychan", "gone"]
            connector = TelegramConnector(channels, url=base, instance=name, interval=0.3)
            async with harness.running(settings, connector):
                got = await harness.posts(settings, count=len(expected))
                await harness.until(lambda: {c for c, *_ in server.answered} == set(asked))
        assert Counter(p["id"] for p in got) == Counter(expected)
        by_id = {p["id"]: without_observed(p) for p in got}
        assert by_id["telegram:tchantest/5"] == SIGNED_EDITED
        forwarded = by_id["telegram:tchantest/89"]
        assert forwarded["forwarded_from"] == {"name": "Some user", "url": "https://t.me/some_user"}
        assert forwarded["text"] == ";)"
        poll = by_id["telegram:tchantest/11"]
        assert poll["text"] == "Let's do a quick poll quizz mode\nOpt1\nOpt2\nOpt3"
        album = by_id["telegram:tchantest/84"]
        assert [m["kind"] for m in album["media"]] == ["video", "image", "video", "image"]
        assert all(m["url"].startswith("https://cdn1.telegram-cdn.org/") for m in album["media"])
        assert by_id["telegram:tchantest/20"]["reply_to"] == "telegram:tchantest/19"
        chamber = by_id["telegram:camaradosdeputados/7334"]
        assert chamber["author"]["handle"] == "CamaradosDeputados"
        assert chamber["hashtags"][0] == "Punição_ampliada"
        assert len(chamber["links"]) == 7
        # the 429 was waited out as long as the server asked
        (refused,) = [(c, t) for c, status, t in server.answered if status == 429]
        retried = [t for c, status, t in server.answered if c == refused[0] and status != 429]
        assert retried[0] - refused[1] >= 0.95
        labels = {"connector": "telegram", "instance": name}
        assert (
            harness.metric("postwatch_connector_skipped_total", reason="not_a_post", **labels) == 4
        )
        assert (
            harness.metric("postwatch_connector_errors_total", reason="rate_limited", **labels) == 1
        )
        assert harness.metric("postwatch_connector_errors_total", reason="rejected", **labels) >= 1
        assert harness.metric("postwatch_connector_posts_total", **labels) == len(expected)

    asyncio.run(scenario())


def test_pages_back_to_the_cursor_after_a_restart_and_produces_edits_once(
    settings: Settings, tmp_path: Path
) -> None:
    messages = recorded_messages()["tchantest"]
    ids = sorted(messages)
    first, meanwhile, away = ids[:10], ids[10:14], ids[14:]

    def some(chosen: list[int]) -> dict[int, str]:
        return {i: messages[i] for i in chosen}

    async def scenario() -> None:
        server = TelegramReplay(page_size=5)
        server.publish("tchantest", some(first))
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-t2"
            args = ["telegram", "--channels", "tchantest", "--url", base, "--interval", "1"]
            log = tmp_path / "connector.log"
            one = harness.start_process(settings, log, *args, "--name", name)
            # a first run produces what the newest page shows
            assert {p["id"] for p in await harness.posts(settings, count=5)} == {
                f"telegram:tchantest/{n}" for n in (7, 9, 10, 11, 12)
            }
            server.publish("tchantest", some(meanwhile))
            assert len(await harness.posts(settings, count=9)) == 9
            assert await harness.stop(one) == 0
            server.publish("tchantest", some(away))
            server.requests.clear()
            two = harness.start_process(settings, log, *args, "--name", name)
            assert len(await harness.posts(settings, count=22)) == 22
            assert server.requests[:3] == [
                ("tchantest", None),
                ("tchantest", "84"),
                ("tchantest", "62"),
            ]
            server.publish("tchantest", {89: edited(messages[89], ";)", "edited to say more")})
            got = await harness.posts(settings, count=23)
            assert await harness.stop(two) == 0
        produced = [n for n in ids[5:] if n not in SERVICE]
        ids_seen = Counter(p["id"] for p in got)
        assert ids_seen == Counter(f"telegram:tchantest/{n}" for n in [*produced, 89]), (
            log.read_text()
        )
        versions = [p for p in got if p["id"] == "telegram:tchantest/89"]
        assert [(v["text"], v.get("edited", False)) for v in versions] == [
            (";)", False),
            ("edited to say more", True),
        ]
        assert {before for _, before in server.requests[3:]} == {None}
        stored = await harness.cursor(settings, name)
        assert stored is not None
        assert stored["channels"]["tchantest"]["last_id"] == 94

    asyncio.run(scenario())
