"""The web feed over real HTTP on a local port: the token, read-only, headers, and the
event stream (fed here straight into the hub; tests/e2e reads it from Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http.cookies import Morsel
from typing import TypeVar

import aiohttp
import pytest
from aiohttp import web

from postwatch.alerts.serve import COOKIE, AlertHub, create_web_app

TOKEN = "s3cret-token"  # noqa: S105 - the test server's own token
T = TypeVar("T")


@asynccontextmanager
async def served(hub: AlertHub, token: str = TOKEN, **options: bool) -> AsyncIterator[str]:
    runner = web.AppRunner(create_web_app(token, hub, **options), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def run(
    hub: AlertHub,
    body: Callable[[str, aiohttp.ClientSession], Awaitable[T]],
    token: str = TOKEN,
    **options: bool,
) -> T:
    async def main() -> T:
        # unsafe: the jar otherwise keeps no cookie from an IP address such as 127.0.0.1
        jar = aiohttp.CookieJar(unsafe=True)
        served_here = served(hub, token, **options)
        async with served_here as base, aiohttp.ClientSession(cookie_jar=jar) as session:
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


async def status_of(base: str, path: bytes, headers: bytes) -> int:
    """The status the feed answers a GET with these raw header lines (bytes that are not
    UTF-8 included, which an HTTP client library would not send)."""
    host, _, port = base.removeprefix("http://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET %s HTTP/1.1\r\nHost: feed\r\n%sConnection: close\r\n\r\n" % (path, headers))
    status = await reader.readline()
    writer.close()
    return int(status.split()[1])


@pytest.mark.parametrize(
    "headers",
    [
        b"Authorization: Bearer \xff\xfe\r\n",
        b"Authorization: Bearer s3cret-t\xc3\xb6ken\r\n",
        b"Authorization: Bearer \xed\xa0\x80\r\n",  # a surrogate, in UTF-8's form
        b"Cookie: postwatch_token=\xe9\xff\r\n",
        b'Cookie: postwatch_token="\xc3\xa9"; other=\x80\r\n',
        b"Authorization: Basic \xff\r\nCookie: postwatch_token=\xff\r\n",
    ],
)
def test_a_credential_that_is_not_text_is_a_wrong_one(headers: bytes) -> None:
    async def body(base: str, _session: aiohttp.ClientSession) -> list[int]:
        return [await status_of(base, path, headers) for path in (b"/", b"/events")]

    assert run(AlertHub(10), body) == [401, 401]


def test_a_token_beyond_ascii_works() -> None:
    token = "t\u00f8ken-\u00e9"  # noqa: S105 - the test server's own token

    async def body(base: str, _session: aiohttp.ClientSession) -> int:
        return await status_of(base, b"/", b"Authorization: Bearer %s\r\n" % token.encode())

    assert run(AlertHub(10), body, token=token) == 200


def cookie_from(path: str, headers: dict[str, str], **options: bool) -> Morsel[str]:
    """The cookie the feed sets for a browser opening `path` (with the token) over HTTP."""

    async def body(base: str, session: aiohttp.ClientSession) -> Morsel[str]:
        async with session.get(base + path, headers=headers, allow_redirects=False) as answer:
            assert answer.status == 303
            return answer.cookies[COOKIE]

    return run(AlertHub(10), body, TOKEN, **options)


def test_the_cookie_is_secure_when_told_or_behind_a_trusted_tls_proxy() -> None:
    opening = f"/?token={TOKEN}"
    https = {"X-Forwarded-Proto": "https"}
    assert not cookie_from(opening, {})["secure"]
    assert cookie_from(opening, {}, secure_cookie=True)["secure"]
    # the proxy's word is taken only when it is trusted, and only its own (the last) value
    assert not cookie_from(opening, https)["secure"]
    assert cookie_from(opening, https, trust_proxy=True)["secure"]
    assert cookie_from(opening, {"X-Forwarded-Proto": "http, HTTPS"}, trust_proxy=True)["secure"]
    spoofed = {"X-Forwarded-Proto": "https, http"}
    assert not cookie_from(opening, spoofed, trust_proxy=True)["secure"]
