"""`postwatch enrich` on the broker: a connector writes raw posts, enrichers fetch their
images from a local server and pass the posts on with hashes and the text in them; a bad
image is recorded on its item, a bad record dead-lettered, and a killed enricher loses
nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from postwatch.kafka.deadletter import DeadLetter
from postwatch.kafka.topics import DEADLETTER, POSTS, POSTS_RAW
from postwatch.rules.matching.normalize import fold
from postwatch.settings import Settings
from postwatch.streams.enrich import BATCH_MAX
from tests.conftest import SHARED_DATA, env_for, produce, read_topic, stop_process
from tests.factories import png, post_doc, poster, sample_photo
from tests.integration.connectors import harness
from tests.integration.connectors.jetstream_server import JetstreamReplay, recorded_events
from tests.local_server import served

pytestmark = pytest.mark.broker

B_JPG = SHARED_DATA / "pdq" / "data" / "misc-images" / "b.jpg"
B_JPG_SHA256 = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
STATEMENT = "Stand with the brothers of the valley at the great march on Friday"


def start_enricher(settings: Settings, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`postwatch enrich --media-private ARGS…` as its own process, output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "postwatch", "enrich", "--media-private", *args],
            env=env_for(settings, POSTWATCH_ENRICH="true"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def posts(
    settings: Settings, count: int, wait: float = 60.0, settle: float = 2.0
) -> list[dict[str, Any]]:
    records = await read_topic(
        settings, settings.topic(POSTS), count=count, wait=wait, settle=settle
    )
    return [orjson.loads(r.value) for r in records]


def test_a_connector_writes_raw_posts_and_the_enricher_passes_them_on_hashed(
    settings: Settings, tmp_path: Path
) -> None:
    asked: list[str] = []

    async def cdn(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(body=B_JPG.read_bytes(), content_type="image/jpeg")

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        app = web.Application()
        app.router.add_get("/img/{path:.+}", cdn)
        async with served(app) as base:
            replay = JetstreamReplay(recorded_events())
            async with replay.serving() as url:
                name = f"{settings.topic_prefix}-b5"
                args = ["bluesky", "--url", url, "--name", name, "--image-cdn", f"{base}/img"]
                connector = harness.start_process(
                    settings, tmp_path / "connector.log", *args, env={"POSTWATCH_ENRICH": "true"}
                )
                enricher = start_enricher(settings, tmp_path / "enrich.log")
                try:
                    got = await posts(settings, count=17)
                finally:
                    assert await harness.stop(connector) == 0
                    assert await asyncio.to_thread(stop_process, enricher) == 0
        raw = await read_topic(settings, settings.topic(POSTS_RAW), count=17, wait=10)
        return got, [orjson.loads(r.value) for r in raw]

    got, raw = asyncio.run(scenario())
    assert len(raw) == len(got) == 17
    assert {p["id"] for p in raw} == {p["id"] for p in got}
    assert not any("sha256" in m for p in raw for m in p.get("media", []))
    media = [m for p in got for m in p.get("media", [])]
    assert len(media) == 2, (tmp_path / "enrich.log").read_text()
    assert sorted(asked) == [
        "/img/did:plc:6aw7u7xjbaiznddugigmdhvc/"
        "bafkreicwsq23gkygrgpijv7ocssxdyjokfv3quss3f2dg4csds3jpeqkwe@jpeg",
        "/img/did:plc:ynfp6wddjqpl44gordpsqkuw/"
        "bafkreidrnwt23f7wy7fyfex5acdkxh62wsgpg245ame4c4rogfwb3upyaa@jpeg",
    ]
    for item in media:
        assert item["sha256"] == B_JPG_SHA256
        assert item["md5"] == "d35c785545392755e7e4164457657269"
        assert item["pdq_quality"] == 100
        assert item["features"]


def test_text_in_images_failed_fetches_and_bad_records_each_end_as_they_should(
    settings: Settings, tmp_path: Path
) -> None:
    scraped: list[str] = []

    async def scenario(base: str) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
        good = post_doc(
            id="test:poster",
            media=[
                {"url": f"{base}/poster.png", "kind": "image"},
                {"url": f"{base}/missing.png", "kind": "image"},
            ],
        )
        plain = post_doc(id="test:plain", text="no media at all")
        await produce(
            settings,
            settings.topic(POSTS_RAW),
            [
                (b"test:a", b"{not json"),
                (b"test:a", orjson.dumps({**post_doc(), "schema": "other"})),
                (b"test:a", orjson.dumps(good)),
                (b"test:a", orjson.dumps(plain)),
            ],
        )
        port = harness.free_port()
        enricher = start_enricher(settings, tmp_path / "enrich.log", "--metrics-port", str(port))
        try:
            got = await posts(settings, count=2)
            letters = await read_topic(settings, settings.topic(DEADLETTER), count=2, wait=10)
            scraped.append(await asyncio.to_thread(harness.scrape, port))
        finally:
            assert await asyncio.to_thread(stop_process, enricher) == 0
        return got, [DeadLetter.decode(r.value) for r in letters]

    async def run() -> tuple[list[dict[str, Any]], list[DeadLetter]]:
        poster_png = png(poster(STATEMENT))

        async def image(request: web.Request) -> web.Response:
            return web.Response(body=poster_png, content_type="image/png")

        app = web.Application()
        app.router.add_get("/poster.png", image)
        async with served(app) as base:
            return await scenario(base)

    got, letters = asyncio.run(run())
    by_id = {p["id"]: p for p in got}
    assert set(by_id) == {"test:poster", "test:plain"}
    read, missing = by_id["test:poster"]["media"]
    assert set(fold(read["text"]).text.split()) == set(fold(STATEMENT).text.split())
    assert read["pdq"]
    assert "error" not in read
    assert missing["error"] == "http_status"
    assert "sha256" not in missing
    assert by_id["test:plain"]["text"] == "no media at all"
    assert sorted(letter.reason for letter in letters) == ["not_json", "schema"]
    [metrics] = scraped
    for line in (
        'postwatch_enrich_posts_total{outcome="enriched"} 2.0',
        'postwatch_enrich_posts_total{outcome="not_json"} 1.0',
        'postwatch_enrich_posts_total{outcome="schema"} 1.0',
        'postwatch_enrich_media_total{outcome="fetched"} 1.0',
        'postwatch_enrich_media_total{outcome="http_status"} 1.0',
        "postwatch_enrich_batch_seconds_count",
    ):
        assert line in metrics, metrics


def test_a_killed_enricher_loses_no_post_and_a_second_takes_over(
    settings: Settings, tmp_path: Path
) -> None:
    count = 3 * BATCH_MAX  # batches after the first are under way when the first is killed
    small = png(sample_photo("coffee").resize((64, 48)))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(body=small, content_type="image/png")

    async def run() -> list[dict[str, Any]]:
        app = web.Application()
        app.router.add_get("/{name}.png", slow)
        async with served(app) as base:
            records: list[tuple[bytes | None, bytes]] = [
                (
                    f"test:{i % 4}".encode(),
                    orjson.dumps(
                        post_doc(
                            id=f"test:{i}",
                            author={"id": f"test:{i % 4}"},
                            media=[{"url": f"{base}/{i}.png", "kind": "image"}],
                        )
                    ),
                )
                for i in range(count)
            ]
            await produce(settings, settings.topic(POSTS_RAW), records)
            first = start_enricher(settings, tmp_path / "first.log")
            try:
                await posts(settings, count=1, wait=60, settle=0)
            finally:
                stop_process(first, signal.SIGKILL)
            second = start_enricher(settings, tmp_path / "second.log")
            try:
                return await posts(settings, count=count, wait=90)
            finally:
                assert await asyncio.to_thread(stop_process, second) == 0

    got = asyncio.run(run())
    assert {p["id"] for p in got} == {f"test:{i}" for i in range(count)}
    assert all(p["media"][0]["sha256"] for p in got)
    [stopped] = [
        orjson.loads(line)
        for line in (tmp_path / "second.log").read_text().splitlines()
        if '"enrich.stopped"' in line
    ]
    assert 0 < stopped["enriched"] <= count  # it did what the first had not committed
