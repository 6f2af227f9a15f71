"""The web feed over real HTTP on a local port: the token, read-only, headers, and the
event stream (fed here straight into the hub; tests/e2e reads it from Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import aiohttp
from aiohttp import web

from postwatch.alerts.serve import COOKIE, AlertHub, create_web_app

TOKEN = "s3cret-token"  # noqa: S105 - the test server's own token
T = TypeVar("T")


@asynccontextmanager
async def served(hub: AlertHub) -> AsyncIterator[str]:
    runner = web.AppRunner(create_web_app(TOKEN, hub), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def run(hub: AlertHub, body: Callable[[str, aiohttp.ClientSession], Awaitable[T]]) -> T:
    async def main() -> T:
        # unsafe: the jar otherwise keeps no cookie from an IP address such as 127.0.0.1
        jar = aiohttp.CookieJar(unsafe=True)
        async with served(hub) as base, aiohttp.ClientSession(cookie_jar=jar) as session:
            return await body(base, session)

    return asyncio.run(main())


def test_every_path_needs_the_token() -> None:
    async def body(base: str, session: aiohttp.ClientSession) -> None:
        for path in ("/", "/events", "/static/feed.js", "/?token=wrong"):
            async with session.get(base + path) as response:
                assert response.status == 401, path
                assert "token" in await response.text()
        bad = {"Authorization": "Bearer wrong"}
        async with session.get(base + "/", headers=bad) as response:
            assert response.status == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(base + "/", headers=good) as response:
            assert response.status == 200
            assert "postwatch alerts" in await response.text()

    run(AlertHub(10), body)


def test_the_token_in_the_address_becomes_an_httponly_cookie() -> None:
    async def body(base: str, session: aiohttp.ClientSession) -> None:
        async with session.get(f"{base}/?token={TOKEN}", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/"
            cookie = response.cookies[COOKIE]
            assert cookie.value == TOKEN
            assert cookie["httponly"]
            assert cookie["samesite"] == "Strict"
        async with session.get(base + "/static/feed.css") as response:  # the cookie is sent
            assert response.status == 200
            assert response.content_type == "text/css"

    run(AlertHub(10), body)


def test_read_only_and_locked_down_headers() -> None:
    async def body(base: str, session: aiohttp.ClientSession) -> None:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            async with session.request(method, base + "/events", headers=auth) as response:
                assert response.status == 405
        async with session.get(base + "/", headers=auth) as response:
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp
            assert "script-src 'self'" in csp
            assert response.headers["Referrer-Policy"] == "no-referrer"
        async with session.get(base + "/static/../serve.py", headers=auth) as response:
            assert response.status == 404

    run(AlertHub(10), body)


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[tuple[int, bytes]]:
    events: list[tuple[int, bytes]] = []
    number = 0
    while len(events) < count:
        line = (await asyncio.wait_for(response.content.readline(), 5)).rstrip(b"\n")
        if line.startswith(b"id: "):
            number = int(line[4:])
        elif line.startswith(b"data: "):
            events.append((number, line[6:]))
    return events


def test_events_give_the_backlog_then_live_alerts_and_resume_after_a_reconnect() -> None:
    hub = AlertHub(backlog=2)
    for n in range(3):
        hub.publish(b'{"n": %d}' % n)

    async def body(base: str, session: aiohttp.ClientSession) -> None:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(base + "/events", headers=auth) as response:
            assert response.content_type == "text/event-stream"
            # the backlog keeps the last two
            assert await read_events(response, 2) == [(2, b'{"n": 1}'), (3, b'{"n": 2}')]
            hub.publish(b'{"n": 3}')
            assert await read_events(response, 1) == [(4, b'{"n": 3}')]
        hub.publish(b'{"n": 4}')
        resume = {**auth, "Last-Event-ID": "3"}
        async with session.get(base + "/events", headers=resume) as response:
            assert await read_events(response, 2) == [(4, b'{"n": 3}'), (5, b'{"n": 4}')]

    run(hub, body)


def test_a_page_fed_by_an_earlier_run_of_the_server_gets_the_whole_backlog() -> None:
    hub = AlertHub(backlog=5)
    for n in range(3):
        hub.publish(b'{"n": %d}' % n)
    assert [number for number, _ in hub.after(2)] == [3]
    assert [number for number, _ in hub.after(900)] == [1, 2, 3]
