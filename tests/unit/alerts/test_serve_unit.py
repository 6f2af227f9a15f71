"""The review console over real HTTP on a local port, on the recorded alerts
(tests/recorded_alerts.py) in an in-memory store, with decisions recorded by a stand-in
(tests/e2e puts them on the broker): who may do what (tokens, sessions, the proxy's header,
roles, CSRF), the queue and its filters, an alert's context, pivots, headers, events."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from http.cookies import Morsel
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import msgspec
import orjson
import pytest
from aiohttp import web

from postwatch.alerts.decide import Decided
from postwatch.alerts.serve import (
    COOKIE,
    CSRF_HEADER,
    Access,
    ConsoleStore,
    Deciding,
    Events,
    Viewing,
    create_web_app,
    media_fetcher,
)
from postwatch.alerts.users import Directory, Sessions, add_user
from postwatch.rules.alerts import Alert
from postwatch.rules.decisions import Decision, Verdict
from tests.recorded_alerts import ALERTS, DECISIONS, H1, by_n

T = TypeVar("T")
UNDECIDED = by_n(8, 7, 6)  # newest first


@dataclass
class Recorded:
    """Decisions as a Decider would record them, kept here."""

    decisions: list[Decision] = field(default_factory=list)

    async def decide(self, alert: Alert, verdict: Verdict, user: str, note: str = "") -> Decided:
        decision = Decision.of(alert, verdict, user, note)
        self.decisions.append(decision)
        return Decided(decision)


@dataclass
class Console:
    base: str
    session: aiohttp.ClientSession
    recorded: Recorded
    store: ConsoleStore
    tokens: dict[str, str]
    users: Path

    async def get(self, path: str, **headers: str) -> tuple[int, Any]:
        async with self.session.get(self.base + path, headers=headers) as response:
            body = await response.read()
            is_json = response.content_type == "application/json"
            return response.status, orjson.loads(body) if is_json else body

    async def sign_in(self, user: str) -> str:
        """Open the sign-in link of this user; the session's CSRF token."""
        url = f"{self.base}/?token={self.tokens[user]}"
        async with self.session.get(url, allow_redirects=False) as response:
            assert response.status == 303
        status, me = await self.get("/api/me")
        assert status == 200
        assert me["user"] == user
        csrf: str = me["csrf"]
        return csrf

    async def decide(
        self, alert_id: str, verdict: str, csrf: str | None, note: str = "", **headers: str
    ) -> tuple[int, Any]:
        if csrf is not None:
            headers[CSRF_HEADER] = csrf
        async with self.session.post(
            f"{self.base}/api/alerts/{alert_id}/decision",
            data=orjson.dumps({"verdict": verdict, "note": note}),
            headers=headers,
        ) as response:
            return response.status, await response.json(content_type=None)


@asynccontextmanager
async def console(
    tmp_path: Path, viewing: Viewing | None = None, **options: Any
) -> AsyncIterator[Console]:
    users = Path(tempfile.mkdtemp(dir=tmp_path)) / "users.toml"
    tokens = {
        "vic": add_user(users, "vic", "viewer"),
        "rita": add_user(users, "rita", "reviewer"),
        "ada": add_user(users, "ada", "admin"),
    }
    store = ConsoleStore(Events())
    store.add(ALERTS)
    store.decide(DECISIONS)
    store.live = True
    recorded = Recorded()
    access = replace(Access(Directory(users), Sessions()), **options)
    app = create_web_app(access, store, Deciding(recorded), viewing)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    # unsafe: the jar otherwise keeps no cookie from an IP address such as 127.0.0.1
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            yield Console(base, session, recorded, store, tokens, users)
    finally:
        await runner.cleanup()


def run(tmp_path: Path, body: Callable[[Console], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        async with console(tmp_path, **options) as opened:
            return await body(opened)

    return asyncio.run(main())


def test_every_path_needs_a_user_and_forged_tokens_are_refused(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        secret = c.tokens["rita"].split(".", 1)[1]
        for path in ("/", "/events", "/static/console.js", "/api/queue", "/?token=wrong"):
            status, answer = await c.get(path)
            assert status == 401, path
            assert "token" in answer["error"]
        for forged in ("wrong", f"vic.{secret}", f"rita.{secret}x", f"nobody.{secret}"):
            assert (await c.get("/", Authorization=f"Bearer {forged}"))[0] == 401
            assert (await c.get(f"/?token={forged}"))[0] == 401
        status, page = await c.get("/", Authorization=f"Bearer {c.tokens['vic']}")
        assert status == 200
        assert b"postwatch review" in page
        status, _ = await c.get("/", Cookie=f"{COOKIE}=forged-session")
        assert status == 401

    run(tmp_path, body)


def test_the_sign_in_link_starts_a_session_in_an_httponly_cookie(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        url = f"{c.base}/?token={c.tokens['rita']}"
        async with c.session.get(url, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/"
            cookie = response.cookies[COOKIE]
            assert cookie.value != c.tokens["rita"]  # the token itself is never a cookie
            assert cookie["httponly"]
            assert cookie["samesite"] == "Strict"
        status, me = await c.get("/api/me")
        assert status == 200
        assert (me["user"], me["role"], me["may_decide"]) == ("rita", "reviewer", True)
        assert len(me["csrf"]) >= 32
        # the same CSRF token for as long as the session lasts
        assert (await c.get("/api/me"))[1]["csrf"] == me["csrf"]

    run(tmp_path, body)


def test_a_reviewer_decides_in_their_own_name_with_the_csrf_token(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        csrf = await c.sign_in("rita")
        target = by_n(6)[0]
        status, answer = await c.decide(target, "false_positive", csrf, "a quote in the news")
        assert status == 201, answer
        assert answer["alert"]["verdict"] == "false_positive"
        assert answer["alert"]["decisions"][-1]["user"] == "rita"
        [decision] = c.recorded.decisions
        assert (decision.alert_id, decision.verdict, decision.user, decision.note) == (
            target,
            "false_positive",
            "rita",
            "a quote in the news",
        )
        stored = c.store.get(target)
        assert stored is not None
        assert stored.verdict == "false_positive"  # in the store at once

        status, answer = await c.decide(target, "note", csrf, "")
        assert status == 400
        assert "needs its text" in answer["error"]
        status, answer = await c.decide("f" * 32, "confirm", csrf)
        assert status == 404
        async with c.session.post(
            f"{c.base}/api/alerts/{target}/decision",
            data=b"{not json",
            headers={CSRF_HEADER: csrf},
        ) as response:
            assert response.status == 400
        assert len(c.recorded.decisions) == 1

    run(tmp_path, body)


def test_without_the_right_csrf_token_or_role_nothing_is_written(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        target = by_n(7)[0]
        csrf = await c.sign_in("rita")
        for offered in (None, "", "wrong", csrf + "x"):
            status, answer = await c.decide(target, "confirm", offered)
            assert status == 403, offered
            assert "CSRF" in answer["error"]
        # GET never writes
        async with c.session.get(f"{c.base}/api/alerts/{target}/decision") as response:
            assert response.status == 405
        # a bearer token reads, but decides nothing: no session, no CSRF token
        bearer = {"Authorization": f"Bearer {c.tokens['rita']}"}
        c.session.cookie_jar.clear()
        status, answer = await c.decide(target, "confirm", csrf, **bearer)
        assert status == 403
        assert "signed-in console" in answer["error"]
        # a viewer, with a session and its own CSRF token
        viewer_csrf = await c.sign_in("vic")
        status, me = await c.get("/api/me")
        assert me["may_decide"] is False
        status, answer = await c.decide(target, "confirm", viewer_csrf)
        assert status == 403
        assert "viewer" in answer["error"]
        # another session's token is no good either
        status, _ = await c.decide(target, "confirm", csrf)
        assert status == 403
        assert c.recorded.decisions == []
        stored = c.store.get(target)
        assert stored is not None
        assert stored.verdict is None

    run(tmp_path, body)


def test_a_user_removed_or_given_a_new_token_is_signed_out(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        await c.sign_in("rita")
        assert (await c.get("/api/me"))[0] == 200
        add_user(c.users, "rita", "reviewer", replace=True)
        await asyncio.sleep(1.1)  # the file is looked at once a second at most
        assert (await c.get("/api/me"))[0] == 401
        assert (await c.get("/", Authorization=f"Bearer {c.tokens['rita']}"))[0] == 401

    run(tmp_path, body)


def test_the_proxy_header_counts_only_when_enabled(tmp_path: Path) -> None:
    async def plain(c: Console) -> None:
        assert (await c.get("/api/me", **{"X-Forwarded-User": "ada"}))[0] == 401

    run(tmp_path, plain)

    async def proxied(c: Console) -> None:
        status, me = await c.get("/api/me", **{"X-Forwarded-User": "rita"})
        assert status == 200
        assert (me["user"], me["role"], me["may_decide"]) == ("rita", "reviewer", True)
        as_rita = {"X-Forwarded-User": "rita"}
        status, answer = await c.decide(by_n(6)[0], "confirm", me["csrf"], **as_rita)
        assert status == 201, answer
        assert c.recorded.decisions[-1].user == "rita"
        # the cookie of rita's session does not make another proxy user rita
        status, me = await c.get("/api/me", **{"X-Forwarded-User": "vic"})
        assert (me["user"], me["may_decide"]) == ("vic", False)
        status, answer = await c.get("/api/me", **{"X-Forwarded-User": "stranger@example.org"})
        assert status == 403
        assert "no user of the review console" in answer["error"]
        assert (await c.get("/api/me", **{"X-Forwarded-User": "a b;c"}))[0] == 401
        # without the header, the tokens still work
        assert (await c.get("/", Authorization=f"Bearer {c.tokens['ada']}"))[0] == 200

    run(tmp_path, proxied, proxy_header="X-Forwarded-User")

    async def defaulted(c: Console) -> None:
        status, me = await c.get("/api/me", **{"X-Forwarded-Email": "stranger@example.org"})
        assert status == 200
        assert (me["user"], me["role"]) == ("stranger@example.org", "viewer")

    run(tmp_path, defaulted, proxy_header="X-Forwarded-Email", proxy_role="viewer")


def test_the_queue_puts_the_undecided_first_and_filters(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        await c.sign_in("vic")

        async def ids(query: str) -> list[str]:
            status, answer = await c.get(f"/api/queue?{query}")
            assert status == 200, answer
            return [a["alert_id"] for a in answer["alerts"]]

        everything = await ids("")
        assert everything[:3] == UNDECIDED
        assert set(everything) == {a.alert_id for a in ALERTS}
        assert await ids("verdict=undecided") == UNDECIDED
        assert await ids("verdict=false_positive") == by_n(5, 3)
        assert await ids("rule=pw-names") == by_n(8, 6, 1)
        assert await ids("severity=critical") == by_n(4, 3, 2)
        assert await ids("source=bluesky") == by_n(6, 4)
        assert await ids("kind=reappearance") == by_n(7)
        assert await ids("limit=2") == by_n(8, 7)
        for bad in ("severity=urgent", "kind=nope", "verdict=note", "limit=0", "limit=x"):
            status, _ = await c.get(f"/api/queue?{bad}")
            assert status == 400, bad

    run(tmp_path, body)


def test_an_alert_comes_with_its_decisions_the_author_s_alerts_and_the_original(
    tmp_path: Path,
) -> None:
    async def body(c: Console) -> None:
        await c.sign_in("vic")
        reappearance = by_n(7)[0]
        status, answer = await c.get(f"/api/alerts/{reappearance}")
        assert status == 200
        assert answer["alert"]["alert_id"] == reappearance
        # bob's other alerts, and the original post's alert (mastodon:1, alice's)
        assert [a["alert_id"] for a in answer["author"]] == by_n(5, 3)
        assert [a["alert_id"] for a in answer["originals"]] == by_n(1)
        status, answer = await c.get(f"/api/alerts/{by_n(4)[0]}")
        assert [(d["verdict"], d["user"]) for d in answer["alert"]["decisions"]] == [
            ("escalate", "sam"),
            ("note", "rita"),
        ]
        assert (await c.get(f"/api/alerts/{'0' * 32}"))[0] == 404

        async def pivot(query: str) -> list[str]:
            status, answer = await c.get(f"/api/pivot?{query}")
            assert status == 200, answer
            return [a["alert_id"] for a in answer["alerts"]]

        assert await pivot(f"hash={H1}") == by_n(3, 2)
        assert await pivot("author=mastodon:bob") == by_n(7, 5, 3)
        assert await pivot("domain=example.org") == by_n(5)
        assert await pivot("fingerprint=mastodon:1") == by_n(7)
        assert (await c.get("/api/pivot"))[0] == 400
        assert (await c.get(f"/api/pivot?hash={H1}&author=x"))[0] == 400

    run(tmp_path, body)


def test_only_an_admin_sees_the_users(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        await c.sign_in("rita")
        assert (await c.get("/api/users"))[0] == 403
        await c.sign_in("ada")
        status, answer = await c.get("/api/users")
        assert status == 200
        assert answer["users"] == [
            {"name": "vic", "role": "viewer", "token": True},
            {"name": "rita", "role": "reviewer", "token": True},
            {"name": "ada", "role": "admin", "token": True},
        ]
        assert "scrypt" not in str(answer)

    run(tmp_path, body)


def test_locked_down_headers_and_assets(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        auth = {"Authorization": f"Bearer {c.tokens['vic']}"}
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            async with c.session.request(method, c.base + "/events", headers=auth) as response:
                assert response.status == 405
        async with c.session.get(c.base + "/", headers=auth) as response:
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp
            assert "script-src 'self'" in csp
            assert response.headers["Referrer-Policy"] == "no-referrer"
        for name in ("console.js", "console.css"):
            assert (await c.get(f"/static/{name}", **auth))[0] == 200
        assert (await c.get("/static/../serve.py", **auth))[0] == 404

    run(tmp_path, body)


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = ""
    while len(events) < count:
        line = (await asyncio.wait_for(response.content.readline(), 5)).rstrip(b"\n")
        if line.startswith(b"event: "):
            name = line[7:].decode()
        elif line.startswith(b"data: "):
            events.append((name, orjson.loads(line[6:])))
    return events


def test_events_tell_of_new_alerts_and_decisions(tmp_path: Path) -> None:
    async def body(c: Console) -> None:
        csrf = await c.sign_in("rita")
        async with c.session.get(c.base + "/events") as response:
            assert response.content_type == "text/event-stream"
            await asyncio.sleep(0.2)  # listening
            fresh = replace_id(ALERTS[5], "e" * 32)
            c.store.add([fresh])
            [(name, alert)] = await read_events(response, 1)
            assert (name, alert["alert_id"], alert["verdict"]) == ("alert", "e" * 32, None)
            status, _ = await c.decide("e" * 32, "escalate", csrf)
            assert status == 201
            [(name, alert)] = await read_events(response, 1)
            assert (name, alert["verdict"]) == ("decision", "escalate")
            assert alert["decisions"][0]["user"] == "rita"

    run(tmp_path, body)


def replace_id(alert: Alert, new_id: str) -> Alert:
    return msgspec.structs.replace(alert, alert_id=new_id)


async def status_of(base: str, path: bytes, headers: bytes) -> int:
    """The status the console answers a GET with these raw header lines (bytes that are not
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
        b"Authorization: Bearer rita.t\xc3\xb6ken\r\n",
        b"Authorization: Bearer \xed\xa0\x80\r\n",  # a surrogate, in UTF-8's form
        b"Cookie: postwatch_session=\xe9\xff\r\n",
        b'Cookie: postwatch_session="\xc3\xa9"; other=\x80\r\n',
        b"X-Forwarded-User: \xff\xfe\r\n",
    ],
)
def test_a_credential_that_is_not_text_is_a_wrong_one(tmp_path: Path, headers: bytes) -> None:
    async def body(c: Console) -> list[int]:
        return [await status_of(c.base, path, headers) for path in (b"/", b"/events")]

    assert run(tmp_path, body, proxy_header="X-Forwarded-User") == [401, 401]


def cookie_from(tmp_path: Path, headers: dict[str, str], **options: bool) -> Morsel[str]:
    """The cookie the console sets for a browser opening its sign-in link over HTTP."""

    async def body(c: Console) -> Morsel[str]:
        url = f"{c.base}/?token={c.tokens['vic']}"
        async with c.session.get(url, headers=headers, allow_redirects=False) as answer:
            assert answer.status == 303
            return answer.cookies[COOKIE]

    return run(tmp_path, body, **options)


def test_the_cookie_is_secure_when_told_or_behind_a_trusted_tls_proxy(tmp_path: Path) -> None:
    https = {"X-Forwarded-Proto": "https"}
    assert not cookie_from(tmp_path, {})["secure"]
    assert cookie_from(tmp_path, {}, secure_cookie=True)["secure"]
    # the proxy's word is taken only when it is trusted, and only its own (the last) value
    assert not cookie_from(tmp_path, https)["secure"]
    assert cookie_from(tmp_path, https, trust_proxy=True)["secure"]
    assert cookie_from(tmp_path, {"X-Forwarded-Proto": "http, HTTPS"}, trust_proxy=True)["secure"]
    spoofed = {"X-Forwarded-Proto": "https, http"}
    assert not cookie_from(tmp_path, spoofed, trust_proxy=True)["secure"]


PNG = (Path(__file__).parents[2] / "files" / "media" / "clip-frame5.png").read_bytes()


@asynccontextmanager
async def image_server() -> AsyncIterator[str]:
    """A local server of one PNG (`/a.png`), a page (`/page`) and nothing else (404)."""

    async def png(_request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/a.png", png)
    app.router.add_get("/page", page)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("private", [True, False])
def test_the_images_of_an_alerts_post_come_through_the_console_with_the_fetchers_guards(
    tmp_path: Path, private: bool
) -> None:
    async def main() -> None:
        async with image_server() as images, media_fetcher(private) as fetcher:
            post = msgspec.structs.replace(
                ALERTS[0].post, media=(f"{images}/a.png", f"{images}/page", f"{images}/gone")
            )
            alert = msgspec.structs.replace(replace_id(ALERTS[0], "e" * 32), post=post)
            async with console(tmp_path, Viewing(fetcher)) as opened:
                opened.store.add([alert])
                status, _ = await opened.get(f"/api/media/{alert.alert_id}/0")
                assert status == 401  # not signed in
                await opened.sign_in("vic")  # a viewer may look
                status, body = await opened.get(f"/api/media/{alert.alert_id}/0")
                if not private:  # a loopback address: refused, as the workers' fetcher does
                    assert status == 502
                    assert "127.0.0.1 is not a public address" in body["error"], body
                    return
                assert (status, body) == (200, PNG)
                for index, expected in (("1", 502), ("2", 502), ("3", 404), ("x", 404)):
                    status, _ = await opened.get(f"/api/media/{alert.alert_id}/{index}")
                    assert status == expected, index
                status, _ = await opened.get(f"/api/media/{'f' * 32}/0")
                assert status == 404

    asyncio.run(main())


def test_every_role_sees_rule_quality_and_a_bad_since_is_refused(tmp_path: Path) -> None:
    async def body(opened: Console) -> None:
        await opened.sign_in("vic")  # a viewer
        status, answer = await opened.get("/api/rules")
        assert status == 200
        by_rule = {(r["rule"], r["entry"]): r for r in answer["rules"]}
        # the recorded alerts: pw-media raised 3 over two days, 2 decided, 1 confirmed
        assert by_rule[("pw-media", None)] == {
            "rule": "pw-media",
            "entry": None,
            "alerts": 3,
            "per_day": 1.5,
            "confirmed": 1,
            "false_positives": 1,
            "escalated": 1,
            "decided_share": 0.667,
            "precision": 0.5,
        }
        assert by_rule[("pw-media", f"known-media/{H1}")]["alerts"] == 2
        assert by_rule[("pw-domain", None)]["precision"] == 0.0
        status, answer = await opened.get("/api/rules?since=soon")
        assert status == 400
        assert "soon" in answer["error"]

    run(tmp_path, body)
