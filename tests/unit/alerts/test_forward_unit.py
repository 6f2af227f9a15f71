"""Forwarding destinations, the Slack message, and delivery with retries against a local
HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from postwatch.alerts import BadDestination
from postwatch.alerts.feed import AlertRecord
from postwatch.alerts.forward import Destination, RetryPolicy, deliver, slack_message
from postwatch.rules import Engine, Severity
from postwatch.rules.alerts import build_alert
from tests.unit.conftest import make_post, only_match

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
    named = build_alert(only_match(engine, make_post()))
    shadow = build_alert(only_match(engine, make_post(text="at the front line")))
    linked = build_alert(
        only_match(engine, make_post(text="see example.org", links=["https://example.org"]))
    )
    assert high.wants(named, include_shadow=False)
    assert not high.wants(linked, include_shadow=False)
    info = Destination.parse("json:info:http://127.0.0.1/")
    assert not info.wants(shadow, include_shadow=False)
    assert info.wants(shadow, include_shadow=True)


def test_slack_message_escapes_post_text(engine: Engine) -> None:
    alert = build_alert(only_match(engine, make_post(text="<!channel> & the Example Front")))
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
    alert = build_alert(only_match(engine, make_post()))
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
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        result = await run(f"http://127.0.0.1:{port}/hook")
    finally:
        await runner.cleanup()
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
