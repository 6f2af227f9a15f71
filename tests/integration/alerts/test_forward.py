"""`postwatch alerts forward` on the real broker, to local webhooks: one that fails and
recovers, a Slack-compatible one for high severity only, and one that never takes
anything, whose failures land on the dead-letter topic."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from postwatch.settings import Settings
from tests.conftest import env_for, read_topic, stop_process
from tests.integration.alerts.conftest import HookServer, alerts_for, post, publish_alerts


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)


@pytest.mark.timeout(180)
def start_forwarder(settings: Settings, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """`postwatch alerts forward ARGS`, its output added to `forward.log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "postwatch", "alerts", "forward", *args],
        env=env_for(settings),
        stdout=(tmp_path / "forward.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_forwarding_retries_recovers_and_dead_letters_what_never_arrives(
    settings: Settings, tmp_path: Path
) -> None:
    alerts = alerts_for(
        post(1, "Join the Sample Brigade"),  # high
        post(2, "see https://example.org/x", links=["https://example.org/x"]),  # low
        post(3, "The Example Front again"),  # high
    )
    assert [a["rule"]["severity"] for a in alerts] == ["high", "low", "high"]
    publish_alerts(settings, alerts)
    with (
        HookServer(answers=[503, 500]) as flaky,
        HookServer() as slack,
        HookServer(always=500) as broken,
    ):
        log = (tmp_path / "forward.log").open("wb")
        forwarder = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "postwatch",
                "alerts",
                "forward",
                "--from-beginning",
                "--attempts",
                "3",
                "--backoff",
                "0.2",
                "--to",
                f"json:info:{flaky.url()}",
                "--to",
                f"slack:high:{slack.url('/services/T0/B0/secret-part')}",
                "--to",
                f"json:high:{broken.url('/hook/secret-part')}",
            ],
            env=env_for(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: len(flaky.delivered()) == 3 and len(slack.delivered()) == 2, 90)
            letters = asyncio.run(
                read_topic(settings, settings.topic("deadletter"), count=2, wait=60)
            )
            assert forwarder.poll() is None, (tmp_path / "forward.log").read_text()
        finally:
            stop_process(forwarder)

    # the flaky webhook failed twice, then took every alert, as produced
    assert [status for status, _ in flaky.requests[:2]] == [503, 500]
    delivered = [json.loads(body)["post"]["id"] for body in flaky.delivered()]
    assert sorted(delivered) == ["mastodon:1", "mastodon:2", "mastodon:3"]
    assert sorted(flaky.delivered()) == sorted(orjson.dumps(a) for a in alerts)
    # the Slack-compatible one got the two high alerts as messages
    messages = [json.loads(body) for body in slack.delivered()]
    assert sorted(m["text"].split(" by ")[0] for m in messages) == [
        "[HIGH] it-names Names of listed organisations",
        "[HIGH] it-names Names of listed organisations",
    ]
    assert all(m["blocks"][0]["type"] == "section" for m in messages)
    # the broken one was tried three times per high alert, and each failure is a dead letter
    assert len(broken.requests) == 6
    by_alert = {}
    for record in letters:
        letter = json.loads(record.value or b"")
        by_alert[json.loads(base64.b64decode(letter["value_b64"]))["alert_id"]] = letter
    assert set(by_alert) == {alerts[0]["alert_id"], alerts[2]["alert_id"]}
    for letter in by_alert.values():
        assert letter["reason"] == "delivery_failed"
        assert letter["error"] == f"json:high:http://127.0.0.1:{broken.port}: HTTP 500"
        assert letter["topic"] == settings.topic("alerts")
        assert "secret-part" not in json.dumps(letter)


@pytest.mark.timeout(120)
def test_a_restarted_forwarder_resumes_after_the_last_alert_it_handled(
    settings: Settings, tmp_path: Path
) -> None:
    first, second = alerts_for(post(1, "Join the Sample Brigade"), post(2, "Example Front"))
    publish_alerts(settings, [first])

    def run_until(hook: HookServer, count: int, *args: str) -> None:
        forwarder = start_forwarder(settings, tmp_path, *args)
        try:
            wait_until(lambda: len(hook.delivered()) >= count, 60)
        finally:
            assert stop_process(forwarder) == 0

    with HookServer() as hook:
        run_until(hook, 1, "--from-beginning", "--to", f"json:info:{hook.url()}")
        publish_alerts(settings, [second])
        run_until(hook, 2, "--to", f"json:info:{hook.url()}")
        time.sleep(1)  # anything delivered twice would show up by now
    assert hook.delivered() == [orjson.dumps(first), orjson.dumps(second)]


class RedirectingHook(HookServer):
    """A webhook that sends every request back to where it came (a redirect loop)."""

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests.append((307, await request.read()))
        raise web.HTTPTemporaryRedirect(str(request.url))


@pytest.mark.timeout(120)
def test_a_redirect_is_dead_lettered_without_the_url_and_odd_records_pass(
    settings: Settings, tmp_path: Path
) -> None:
    named = alerts_for(post(1, "Join the Sample Brigade"))[0]
    odd = {"alert_id": "odd\r\nX-Injected: 1", "rule": "it-names", "post": ["x"], "evidence": 1}
    publish_alerts(settings, [odd, named])
    path = "/hook/secret-part?key=secret-query"
    with RedirectingHook() as moved, HookServer() as slack:
        moved_url = moved.url(path).replace("//", "//user:pw@")
        args = ["--from-beginning", "--attempts", "3", "--backoff", "0.1"]
        args += ["--to", f"json:info:{moved_url}"]
        args += ["--to", f"slack:info:{slack.url('/services/T0/B0/secret-part')}"]
        forwarder = start_forwarder(settings, tmp_path, *args)
        try:
            wait_until(lambda: len(slack.delivered()) == 2, 60)
            letters = asyncio.run(
                read_topic(settings, settings.topic("deadletter"), count=2, wait=60)
            )
            assert forwarder.poll() is None, (tmp_path / "forward.log").read_text()
        finally:
            assert stop_process(forwarder) == 0

    assert len(moved.requests) == 2  # once each: not retried, and the redirect not followed
    errors = [json.loads(record.value or b"")["error"] for record in letters]
    refused = f"json:info:http://127.0.0.1:{moved.port}: HTTP 307: redirects are not followed"
    assert errors == [refused, refused]
    for text in (json.dumps(errors), (tmp_path / "forward.log").read_text()):
        for part in ("secret-part", "secret-query", "user:pw"):
            assert part not in text
    texts = sorted(json.loads(body)["text"] for body in slack.delivered())
    assert texts[0].startswith("[HIGH] it-names Names of listed organisations by alice")
    assert texts[1] == "[INFO] ? by ? on ?"
