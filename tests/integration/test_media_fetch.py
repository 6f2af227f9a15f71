"""The media fetcher against a local HTTP server that serves the PDQ reference images and
every way a download can go wrong."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from postwatch.media import VPDQ_AVAILABLE, HashOptions
from postwatch.media.fetch import FetchOptions, MediaFetcher
from tests.conftest import SHARED_DATA
from tests.factories import post_doc
from tests.local_server import served

RESOURCES = SHARED_DATA / "pdq" / "python-threatexchange-resources"
LA_PDQ = "accb6d39648035f8125c8ce6ba65007de7b54c67a2d93ef7b8f33b0611306715"
SAMPLE_B_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SAMPLE_B_SHA256 = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"


async def _file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    types = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    path = RESOURCES / name
    return web.Response(body=path.read_bytes(), content_type=types[path.suffix])


async def _redirect(request: web.Request) -> web.Response:
    hops = int(request.match_info["hops"])
    target = "/img/sample-b.jpg" if hops == 0 else f"/redirect/{hops - 1}"
    raise web.HTTPFound(target)


async def _html(_: web.Request) -> web.Response:
    return web.Response(text="<html>a page, not an image</html>", content_type="text/html")


async def _lying(_: web.Request) -> web.Response:
    return web.Response(body=b"<html>not a jpeg</html>", content_type="image/jpeg")


async def _broken(_: web.Request) -> web.Response:
    data = (RESOURCES / "rgb.jpeg").read_bytes()
    return web.Response(body=data[: len(data) // 3], content_type="image/jpeg")


async def _big(_: web.Request) -> web.Response:
    return web.Response(body=b"\xff\xd8\xff" + bytes(500_000), content_type="image/jpeg")


async def _big_streamed(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    response.enable_chunked_encoding()  # no Content-Length: the cap applies as it streams
    await response.prepare(request)
    for _ in range(60):
        await response.write(bytes(10_000))
    await response.write_eof()
    return response


@cache
def noise_png() -> bytes:
    """A PNG of noise: 3 MB that hash in a fraction of a second."""
    out = BytesIO()
    Image.effect_noise((1000, 1000), 64).convert("RGB").save(out, format="PNG", compress_level=0)
    return out.getvalue()


async def _noise(_: web.Request) -> web.Response:
    return web.Response(body=noise_png(), content_type="image/png")


async def _late(_: web.Request) -> web.Response:
    await asyncio.sleep(3)  # within the download limit, past the post's
    return web.Response(body=(RESOURCES / "LA.png").read_bytes(), content_type="image/png")


async def _slow(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    await response.prepare(request)
    for _ in range(10):  # 2 s in all, far past the client's limit
        await response.write(b"\x89PNG\r\n\x1a\n")
        await asyncio.sleep(0.2)
    return response


@asynccontextmanager
async def media_server(asked: Counter[str] | None = None) -> AsyncIterator[str]:
    """The server's base URL; `asked` counts the requests by path."""

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if asked is not None:
            asked[request.path] += 1
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[count])
    app.router.add_get("/img/{name}", _file)
    app.router.add_get("/redirect/{hops}", _redirect)
    app.router.add_get("/page", _html)
    app.router.add_get("/lying.jpg", _lying)
    app.router.add_get("/broken.jpg", _broken)
    app.router.add_get("/big.jpg", _big)
    app.router.add_get("/big-streamed.png", _big_streamed)
    app.router.add_get("/slow.png", _slow)
    app.router.add_get("/noise/{n}.png", _noise)
    app.router.add_get("/late.png", _late)
    async with served(app) as url:
        yield url


def post_with(media: list[dict[str, Any]]) -> dict[str, Any]:
    return post_doc(text="", media=media)


LOCAL = FetchOptions(allow_private_addresses=True, max_bytes=400_000, timeout=1.0, max_redirects=3)


def test_images_are_hashed_and_every_failure_is_counted() -> None:
    async def run() -> tuple[dict[str, Any], MediaFetcher, float]:
        async with media_server() as base, MediaFetcher(LOCAL) as fetcher:
            post = post_with(
                [
                    {"url": f"{base}/img/LA.png", "kind": "image"},
                    {"url": f"{base}/redirect/2"},  # two hops, then sample-b.jpg; no kind
                    {"url": f"{base}/redirect/5", "kind": "image"},
                    {"url": f"{base}/page", "kind": "image"},
                    {"url": f"{base}/missing.png", "kind": "image"},
                    {"url": f"{base}/lying.jpg", "kind": "image"},
                    {"url": f"{base}/broken.jpg", "kind": "image"},
                    {"url": f"{base}/big.jpg", "kind": "image"},
                    {"url": f"{base}/big-streamed.png", "kind": "image"},
                    {"url": f"{base}/slow.png", "kind": "image"},
                    {"url": f"{base}/img/LA.png", "kind": "video"},  # kind not fetched
                    {"kind": "image"},  # no URL
                    {"url": f"{base}/img/LA.png", "kind": "image", "sha256": "0" * 64},
                ]
            )
            started = time.monotonic()
            enriched = await fetcher.enrich(post)
            return enriched, fetcher, time.monotonic() - started

    enriched, fetcher, took = asyncio.run(run())
    media = enriched["media"]
    assert (media[0]["pdq"], media[0]["pdq_quality"]) == (LA_PDQ, 100)
    assert (media[1]["pdq"], media[1]["sha256"], media[1]["kind"]) == (
        SAMPLE_B_PDQ,
        SAMPLE_B_SHA256,
        "image",
    )
    for item in media[2:12]:
        assert "sha256" not in item
        assert "pdq" not in item
    # each item says why it has no hashes; those not fetched by choice say nothing
    assert [item.get("error") for item in media[2:]] == [
        "redirects",
        "content_type",
        "http_status",
        "magic",
        "decode",
        "too_large",
        "too_large",
        "timeout",
        None,
        None,
        None,
    ]
    assert media[12]["sha256"] == "0" * 64
    assert fetcher.stats.fetched == 2
    assert fetcher.stats.skipped == {"not_wanted": 3}
    assert fetcher.stats.failed == {
        "redirects": 1,
        "content_type": 1,
        "http_status": 1,
        "magic": 1,
        "decode": 1,
        "too_large": 2,
        "timeout": 1,
    }
    assert took < 5  # the slow download was cut at its 1 s limit, not waited for


def test_private_addresses_are_refused_unless_allowed() -> None:
    async def run() -> tuple[dict[str, Any], MediaFetcher]:
        async with media_server() as base, MediaFetcher(FetchOptions(timeout=5)) as fetcher:
            port = base.rsplit(":", 1)[1]
            post = post_with(
                [
                    {"url": f"{base}/img/LA.png", "kind": "image"},
                    {"url": f"http://localhost:{port}/img/LA.png", "kind": "image"},
                    {"url": f"http://[::1]:{port}/img/LA.png", "kind": "image"},
                ]
            )
            return await fetcher.enrich(post), fetcher

    enriched, fetcher = asyncio.run(run())
    assert all("sha256" not in item for item in enriched["media"])
    assert fetcher.stats.failed == {"address": 3}


def test_the_post_is_returned_unchanged_where_there_is_nothing_to_fetch() -> None:
    async def run() -> tuple[dict[str, Any], MediaFetcher]:
        options = FetchOptions(hash_options=HashOptions(timeout=5))
        async with MediaFetcher(options) as fetcher:
            post = post_with([])
            assert await fetcher.enrich(post) is post
            return await fetcher.enrich(post_with([{"url": "ftp://example.org/a.png"}])), fetcher

    enriched, fetcher = asyncio.run(run())
    assert enriched["media"] == [{"url": "ftp://example.org/a.png"}]
    assert fetcher.stats.skipped == {"not_wanted": 1}


def test_a_url_named_many_times_is_fetched_once_and_its_hashes_given_to_each() -> None:
    asked: Counter[str] = Counter()

    async def run() -> tuple[dict[str, Any], MediaFetcher]:
        async with media_server(asked) as base, MediaFetcher(LOCAL) as fetcher:
            post = post_with([{"url": f"{base}/img/LA.png", "kind": "image"}] * 200)
            return await fetcher.enrich(post), fetcher

    enriched, fetcher = asyncio.run(run())
    assert asked == {"/img/LA.png": 1}
    assert {item["pdq"] for item in enriched["media"]} == {LA_PDQ}
    assert (fetcher.stats.fetched, fetcher.stats.skipped) == (1, {"same_url": 199})


def test_media_past_the_cap_are_not_fetched_and_counted_as_such() -> None:
    asked: Counter[str] = Counter()
    options = FetchOptions(allow_private_addresses=True, max_media=5)

    async def run() -> tuple[dict[str, Any], MediaFetcher]:
        async with media_server(asked) as base, MediaFetcher(options) as fetcher:
            post = post_with([{"url": f"{base}/noise/{n}.png", "kind": "image"} for n in range(40)])
            return await fetcher.enrich(post), fetcher

    enriched, fetcher = asyncio.run(run())
    assert sum(asked.values()) == 5
    assert [("sha256" in item) for item in enriched["media"]] == [True] * 5 + [False] * 35
    assert (fetcher.stats.fetched, fetcher.stats.skipped) == (5, {"too_many": 35})


def test_downloads_wait_for_their_hashing_instead_of_piling_up_in_memory() -> None:
    """Forty media of 15 MB took 804 MiB: every download finished long before it was hashed."""
    size = len(noise_png())
    options = FetchOptions(allow_private_addresses=True, concurrency=2, max_media=20)

    async def run() -> MediaFetcher:
        async with media_server() as base, MediaFetcher(options) as fetcher:
            post = post_with([{"url": f"{base}/noise/{n}.png", "kind": "image"} for n in range(20)])
            tracemalloc.start()
            try:
                await fetcher.enrich(post)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < 10 * size, f"{peak / size:.1f} downloads held at once"
            return fetcher

    assert asyncio.run(run()).stats.fetched == 20


def test_a_post_gets_its_time_and_the_next_post_is_not_held_up() -> None:
    options = FetchOptions(allow_private_addresses=True, timeout=10, post_timeout=1.0)

    async def run() -> tuple[float, dict[str, Any], dict[str, Any], MediaFetcher]:
        async with media_server() as base, MediaFetcher(options) as fetcher:
            started = time.monotonic()
            slow = await fetcher.enrich(post_with([{"url": f"{base}/late.png"}]))
            took = time.monotonic() - started
            fast = await fetcher.enrich(post_with([{"url": f"{base}/img/LA.png"}]))
            return took, slow, fast, fetcher

    took, slow, fast, fetcher = asyncio.run(run())
    assert took < 2.5
    assert "sha256" not in slow["media"][0]
    assert fast["media"][0]["pdq"] == LA_PDQ
    assert fetcher.stats.failed == {"post_timeout": 1}


@pytest.mark.parametrize(
    "host",
    [
        "[::7f00:1]",  # IPv4-compatible: 127.0.0.1
        "[::a00:1]",  # 10.0.0.1
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[64:ff9b:1::a00:1]",  # local-use NAT64
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[fec0::1]",  # site-local
    ],
)
def test_ipv6_addresses_that_carry_a_private_ipv4_one_are_refused(host: str) -> None:
    async def run() -> MediaFetcher:
        async with MediaFetcher(FetchOptions(timeout=5)) as fetcher:
            await fetcher.enrich(post_with([{"url": f"http://{host}:8080/a.png", "kind": "image"}]))
            return fetcher

    assert asyncio.run(run()).stats.failed == {"address": 1}


@pytest.mark.skipif(not VPDQ_AVAILABLE, reason="the vpdq package (extra `video`) is not installed")
def test_a_video_is_fetched_when_asked_for_and_carries_its_keyframes() -> None:
    clip = Path(__file__).parents[1] / "files" / "media" / "clip.mp4"

    async def video(request: web.Request) -> web.Response:
        return web.Response(body=clip.read_bytes(), content_type="video/mp4")

    async def run(kinds: frozenset[str]) -> dict[str, Any]:
        app = web.Application()
        app.router.add_get("/clip.mp4", video)
        options = replace(LOCAL, kinds=kinds, timeout=10.0)
        async with served(app) as base, MediaFetcher(options) as fetcher:
            return await fetcher.enrich(post_with([{"url": f"{base}/clip.mp4", "kind": "video"}]))

    [item] = asyncio.run(run(frozenset({"image", "video"})))["media"]
    assert item["kind"] == "video"
    assert item["sha256"]
    assert [f["at"] for f in item["frames"]][:2] == [0.0, 1.0]
    assert all(set(f) == {"pdq", "quality", "at"} for f in item["frames"])
    [skipped] = asyncio.run(run(frozenset({"image"})))["media"]
    assert "frames" not in skipped
