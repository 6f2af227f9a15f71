"""Forwarding destinations, the Slack message, and delivery with retries against a local
HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from click.testing import CliRunner
from structlog.testing import capture_logs

from postwatch import cli
from postwatch.alerts import BadDestination
from postwatch.alerts.feed import AlertRecord
from postwatch.alerts.forward import Destination, RetryPolicy, deliver, slack_message
from postwatch.rules import Engine, Severity
from tests.local_server import served
from tests.terminal import acting
from tests.unit.conftest import alert_doc, make_post, only_match

FAST = RetryPolicy(attempts=4, backoff_s=0.01, max_backoff_s=0.05, timeout_s=2.0)


def test_destinations_parse_and_hide_their_secret_path() -> None:
    d = Destination.parse("slack:high:https://hooks.slack.com/services/T0/B0/secret")
    assert (d.kind, d.min_severity) == ("slack", Severity.HIGH)
    assert d.label == "slack:high:https://hooks.slack.com"
    assert "secret" not in d.label
    for bad, why in [
        ("mail:high:https://x", "kind"),
        ("json:urgent:https://x", "severity"),
        ("json:high:ftp://x/y", "URL"),
        ("json:high", "URL"),
    ]:
        with pytest.raises(BadDestination, match=why):
            Destination.parse(bad)


def test_destinations_take_alerts_from_their_severity_and_no_shadow_by_default(
    engine: Engine,
) -> None:
    high = Destination.parse("json:high:http://127.0.0.1/")
    named = alert_doc(only_match(engine, make_post()))
    shadow = alert_doc(only_match(engine, make_post(text="at the front line")))
    linked = alert_doc(
        only_match(engine, make_post(text="see example.org", links=["https://example.org"]))
    )
    assert high.wants(named, include_shadow=False)
    assert not high.wants(linked, include_shadow=False)
    info = Destination.parse("json:info:http://127.0.0.1/")
    assert not info.wants(shadow, include_shadow=False)
    assert info.wants(shadow, include_shadow=True)


def test_slack_message_escapes_post_text(engine: Engine) -> None:
    alert = alert_doc(only_match(engine, make_post(text="<!channel> & the Example Front")))
    message = slack_message(alert)
    assert message["text"].startswith("[HIGH] ops-names Names of listed organisations by alice")
    section = message["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; the Example Front" in section
    assert "<!channel>" not in section
    assert "<https://mastodon.example/@alice/1|open the post>" in section


def test_backoff_doubles_honours_retry_after_and_is_capped() -> None:
    policy = RetryPolicy(backoff_s=0.5, max_backoff_s=4.0)
    assert [policy.delay(n, None) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.delay(0, "3") == 3.0
    assert policy.delay(0, "60") == 4.0


def record(engine: Engine) -> AlertRecord:
    alert = alert_doc(only_match(engine, make_post()))
    return AlertRecord(alert, orjson.dumps(alert), alert["alert_id"].encode(), "t", 0, 0)


async def with_server(
    answers: list[int], run: Callable[[str], Awaitable[str | None]]
) -> tuple[str | None, list[bytes]]:
    """A local HTTP server that answers with `answers` in turn (then 200)."""
    bodies: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        status = answers.pop(0) if answers else 200
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with served(app) as url:
        result = await run(url + "/hook")
    return result, bodies


@pytest.mark.parametrize(
    ("answers", "error", "tries"),
    [
        ([], None, 1),
        ([503, 500], None, 3),  # fails, then recovers
        ([503, 503, 503, 503], "HTTP 503", 4),  # never recovers within the attempts
        ([404], "HTTP 404", 1),  # final: not retried
        ([429], None, 2),
    ],
)
def test_delivery_retries_what_may_pass_later(
    engine: Engine, answers: list[int], error: str | None, tries: int
) -> None:
    item = record(engine)

    async def run(url: str) -> str | None:
        async with aiohttp.ClientSession() as session:
            return await deliver(session, Destination.parse(f"json:info:{url}"), item, FAST)

    result, bodies = asyncio.run(with_server(list(answers), run))
    assert result == error
    assert len(bodies) == tries
    assert all(body == item.value for body in bodies)


def test_delivery_to_nothing_listening_fails_with_the_connection_error(engine: Engine) -> None:
    item = record(engine)

    async def run() -> str | None:
        async with aiohttp.ClientSession() as session:
            # port 9 (discard) has no listener here: connection refused at once
            return await deliver(
                session, Destination.parse("json:info:http://127.0.0.1:9/"), item, FAST
            )

    error = asyncio.run(run())
    assert error is not None
    assert "Connect" in error


# made up, for the tests to look for
SECRET_URL = "http://user:pw@127.0.0.1:{port}/hook/secret-part?key=secret-query"  # noqa: S105


async def logged_delivery(
    url: str, item: AlertRecord
) -> tuple[str | None, list[MutableMapping[str, Any]]]:
    """Deliver `item` to a json destination at `url`; what it returned and what it logged."""
    with capture_logs() as logs:
        async with aiohttp.ClientSession() as session:
            error = await deliver(session, Destination.parse(f"json:info:{url}"), item, FAST)
    return error, logs


def assert_no_secret(text: str) -> None:
    for secret in ("secret-part", "secret-query", "user", "pw@"):
        assert secret not in text, text


def test_a_destination_is_named_by_scheme_host_and_port_only() -> None:
    d = Destination.parse("json:high:https://user:pw@hooks.example:8443/secret-part?k=v")
    assert d.label == "json:high:https://hooks.example:8443"


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("https://hooks.slack.com/services/T0/B0/secret-part", "kind"),
        ("mail:high:https://user:pw@x/secret-part", "kind"),
        ("json:urgent:https://x/secret-part?key=secret-query", "severity"),
        ("json:high:ftp://user:pw@x/secret-part", "URL"),
        ("json:high:https://x:99999/secret-part", "URL"),
    ],
)
def test_a_bad_destination_is_refused_without_repeating_its_url(spec: str, why: str) -> None:
    with pytest.raises(BadDestination, match=why) as refused:
        Destination.parse(spec)
    assert_no_secret(str(refused.value))


def test_a_bad_to_option_is_refused_without_repeating_its_url() -> None:
    spec = "mail:high:https://user:pw@hooks.example/secret-part?key=secret-query"
    result = CliRunner().invoke(cli.main, ["alerts", "forward", "--to", spec])
    assert result.exit_code == 2
    assert "kind" in result.output
    assert_no_secret(result.output)


def test_a_redirect_is_a_failed_delivery_not_followed(engine: Engine) -> None:
    """A webhook that answers with a redirect (here to itself, a loop) gets the alert once;
    the failure names the destination without its path."""
    item = record(engine)
    requests: list[str] = []

    async def main() -> str | None:
        async def hook(request: web.Request) -> web.Response:
            requests.append(request.path_qs)
            raise web.HTTPTemporaryRedirect(str(request.url))

        app = web.Application()
        app.router.add_post("/{tail:.*}", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = SECRET_URL.format(port=runner.addresses[0][1])
        try:
            error, logs = await logged_delivery(url, item)
        finally:
            await runner.cleanup()
        assert_no_secret(str(logs))
        return error

    assert asyncio.run(main()) == "HTTP 307: redirects are not followed"
    assert requests == ["/hook/secret-part?key=secret-query"]


def test_an_error_that_quotes_the_url_is_logged_and_returned_without_its_path(
    engine: Engine,
) -> None:
    """A server that answers with a broken status line: the client's error quotes the whole
    URL, which is cut back to scheme, host and port in the log and in what is returned."""
    item = record(engine)

    async def main() -> str | None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        url = SECRET_URL.format(port=server.sockets[0].getsockname()[1])
        try:
            error, logs = await logged_delivery(url, item)
        finally:
            server.close()
        assert [entry["event"] for entry in logs] == ["forward.retry"] * FAST.attempts
        assert_no_secret(str(logs))
        return error

    error = asyncio.run(main())
    assert error is not None
    assert "Bad status line" in error
    assert "http://127.0.0.1:" in error
    assert_no_secret(error)


def test_slack_gets_its_special_characters_escaped_and_only_web_links(engine: Engine) -> None:
    alert = alert_doc(only_match(engine, make_post(text="<!channel> & the Example Front")))
    alert["rule"]["title"] = "<!here> & <https://evil.example|click>"
    alert["post"]["author"]["handle"] = "<@U123>"
    alert["alert_id"] = "<!channel>"
    message = slack_message(alert)
    for text in (message["text"], orjson.dumps(message["blocks"]).decode()):
        assert "<!" not in text
        assert "<@" not in text
        assert "<https://evil" not in text
    assert message["text"].startswith("[HIGH] ops-names &lt;!here&gt; &amp; &lt;https://evil")
    for url in ("javascript:alert(1)", "file:///etc/passwd", "slack://open", "https://"):
        alert["post"]["url"] = url
        assert "open the post" not in slack_message(alert)["blocks"][0]["text"]["text"]
    alert["post"]["url"] = "https://mastodon.example/@a/1?x=<y>|z"
    section = slack_message(alert)["blocks"][0]["text"]["text"]
    assert "<https://mastodon.example/@a/1?x=%3Cy%3E%7Cz|open the post>" in section


@pytest.mark.parametrize(
    "change",
    [
        {"rule": "ops-names"},
        {"post": ["x"], "evidence": "text"},
        {"post": {"author": "alice", "url": 5, "excerpt": None}},
        {"rule": {"severity": 3, "id": None}, "evidence": [1, {"type": "keyword"}]},
        {"kind": "summary", "suppressed_count": "many"},
        {"alert_id": "a\r\nX-Injected: 1 \x1b]0;t\x07"},
    ],
)
def test_an_alert_in_an_unexpected_shape_is_still_delivered(
    engine: Engine, change: dict[str, object]
) -> None:
    """The alerts topic is read as it comes: an odd record is delivered as far as it goes
    (its id header made safe) rather than stopping the forwarder."""
    alert = {**alert_doc(only_match(engine, make_post())), **change}
    item = AlertRecord(alert, orjson.dumps(alert), None, "t", 0, 0)
    headers: list[str] = []

    async def main() -> list[str | None]:
        async def hook(request: web.Request) -> web.Response:
            headers.append(request.headers.get("X-Postwatch-Alert-Id", ""))
            assert "X-Injected" not in request.headers
            return web.Response()

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        try:
            async with aiohttp.ClientSession() as session:
                return [
                    await deliver(session, Destination.parse(f"{kind}:info:{url}"), item, FAST)
                    for kind in ("json", "slack")
                ]
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == [None, None]
    assert all(acting(header) == [] for header in headers)
