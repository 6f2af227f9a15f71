"""The webhook connector on the real broker: every authentication and limit case."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from postwatch.connectors.webhook import Auth, WebhookConnector, sign
from postwatch.connectors.webhook.connector import ERRORS_LISTED
from postwatch.settings import Settings
from tests.integration.connectors import harness

SECRET = b"shared secret"
TOKEN = "s3cret-token"  # noqa: S105 - a test credential for a local server
URL = "http://127.0.0.1:{port}/v1/posts"


def post(n: int) -> dict[str, Any]:
    return {
        "schema": "postwatch.post/1",
        "id": f"hook:{n}",
        "source": "hook",
        "author": {"id": f"hook:author{n % 3}"},
        "created_at": "2025-07-25T10:00:00Z",
        "text": f"pushed post {n}",
    }


def signed(body: bytes, *, at: float | None = None, secret: bytes = SECRET) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "X-Postwatch-Timestamp": timestamp,
        "X-Postwatch-Signature": sign(secret, timestamp, body),
    }


async def send(
    port: int, body: bytes | AsyncIterator[bytes], headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(URL.format(port=port), data=body, headers=headers) as response,
    ):
        return response.status, orjson.loads(await response.read() or b"{}")


async def listening(connector: WebhookConnector) -> int:
    await harness.until(lambda: connector.bound_port is not None)
    assert connector.bound_port is not None
    return connector.bound_port


def test_token_and_signature_together_and_the_limits(settings: Settings) -> None:
    auth = Auth(tokens=(TOKEN,), secret=SECRET, tolerance=300)
    name = f"{settings.topic_prefix}-w1"
    hook = WebhookConnector("127.0.0.1", 0, auth=auth, max_bytes=4096, instance=name)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    one = orjson.dumps(post(1))

    async def scenario() -> None:
        async with harness.running(settings, hook):
            port = await listening(hook)
            # 401: a credential is missing
            assert (await send(port, one, signed(one)))[0] == 401
            assert (await send(port, one, {**bearer}))[0] == 401
            assert (await send(port, one, {"Authorization": "Basic eDp5", **signed(one)}))[0] == 401
            # 403: a credential is wrong or stale
            assert (await send(port, one, {"Authorization": "Bearer nope", **signed(one)}))[
                0
            ] == 403
            assert (await send(port, one, {**bearer, **signed(b"other body")}))[0] == 403
            assert (await send(port, one, {**bearer, **signed(one, secret=b"guess")}))[0] == 403
            stale = signed(one, at=time.time() - 301)
            assert (await send(port, one, {**bearer, **stale}))[0] == 403
            early = signed(one, at=time.time() + 301)
            assert (await send(port, one, {**bearer, **early}))[0] == 403
            garbled = {**signed(one), "X-Postwatch-Timestamp": "yesterday"}
            assert (await send(port, one, {**bearer, **garbled}))[0] == 403
            # 413: over the limit, declared or streamed
            big = b"x" * 5000
            assert (await send(port, big, {**bearer, **signed(big)}))[0] == 413

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(10):
                    yield b"y" * 1000

            assert (await send(port, chunks(), {**bearer}))[0] == 413
            # 202: one post, acknowledged before the answer
            status, answer = await send(port, one, {**bearer, **signed(one)})
            assert (status, answer) == (202, {"accepted": 1, "rejected": 0})
            # 400: the bad lines by number, the good ones produced all the same
            lines = [
                orjson.dumps(post(2)),
                b"{not json",
                orjson.dumps({**post(3), "created_at": "yesterday"}),
                b"",
                b"[1, 2]",
                orjson.dumps(post(4)),
            ]
            ndjson = b"\n".join(lines) + b"\n"
            headers = {**bearer, **signed(ndjson), "Content-Type": "application/x-ndjson"}
            status, answer = await send(port, ndjson, headers)
            got = await harness.posts(settings, count=3, wait=10)
        assert status == 400
        assert answer["accepted"] == 2
        assert answer["rejected"] == 3
        assert [(e["line"], e["reason"]) for e in answer["errors"]] == [
            (2, "not_json"),
            (3, "schema"),
            (5, "schema"),
        ]
        assert sorted(p["id"] for p in got) == ["hook:1", "hook:2", "hook:4"]
        assert {p["id"]: p["text"] for p in got}["hook:4"] == "pushed post 4"
        labels = {"connector": "webhook", "instance": name}
        assert harness.metric("postwatch_connector_posts_total", **labels) == 3
        assert harness.metric("postwatch_connector_skipped_total", reason="not_json", **labels) == 1

    asyncio.run(scenario())


def test_bearer_tokens_alone_with_rotation(settings: Settings) -> None:
    auth = Auth(tokens=("old-token", "new-token"))
    hook = WebhookConnector("127.0.0.1", 0, auth=auth, instance=f"{settings.topic_prefix}-w2")
    one, two = orjson.dumps(post(1)), orjson.dumps(post(2))

    async def scenario() -> None:
        async with harness.running(settings, hook):
            port = await listening(hook)
            assert (await send(port, one, {}))[0] == 401
            assert (await send(port, one, {"Authorization": "Bearer "}))[0] == 401
            assert (await send(port, one, {"Authorization": "Bearer older-token"}))[0] == 403
            assert (await send(port, one, {"Authorization": "Bearer old-token"}))[0] == 202
            assert (await send(port, two, {"Authorization": "bearer new-token"}))[0] == 202
            got = await harness.posts(settings, count=2, wait=10)
        assert sorted(p["id"] for p in got) == ["hook:1", "hook:2"]

    asyncio.run(scenario())


def test_signature_alone(settings: Settings) -> None:
    hook = WebhookConnector(
        "127.0.0.1", 0, auth=Auth(secret=SECRET), instance=f"{settings.topic_prefix}-w3"
    )
    one = orjson.dumps(post(1))

    async def scenario() -> None:
        async with harness.running(settings, hook):
            port = await listening(hook)
            assert (await send(port, one, {}))[0] == 401
            only_time = {"X-Postwatch-Timestamp": signed(one)["X-Postwatch-Timestamp"]}
            assert (await send(port, one, only_time))[0] == 401
            assert (await send(port, one, signed(one, secret=b"other")))[0] == 403
            assert (await send(port, one, signed(one)))[0] == 202
            got = await harness.posts(settings, count=1, wait=10)
        assert [p["id"] for p in got] == ["hook:1"]

    asyncio.run(scenario())


def test_the_command_serves_until_sigterm(settings: Settings, tmp_path: Path) -> None:
    port = harness.free_port()
    body = orjson.dumps(post(7))

    async def scenario() -> None:
        args = ["webhook", "--listen", f"127.0.0.1:{port}", "--token", TOKEN, "--max-bytes", "1000"]
        process = harness.start_process(settings, tmp_path / "webhook.log", *args)
        try:
            answer: tuple[int, dict[str, Any]] | None = None
            for _ in range(100):  # until it listens
                try:
                    answer = await send(port, body, {"Authorization": f"Bearer {TOKEN}"})
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            too_big = await send(port, b"x" * 1001, {"Authorization": f"Bearer {TOKEN}"})
            got = await harness.posts(settings, count=1, wait=10)
        finally:
            code = await harness.stop(process)
        assert answer == (202, {"accepted": 1, "rejected": 0})
        assert too_big[0] == 413
        assert [p["id"] for p in got] == ["hook:7"]
        assert code == 0

    asyncio.run(scenario())


def raw_post(port: int, body: bytes, headers: dict[str, bytes]) -> int:
    """The status of a POST with header values as raw bytes (aiohttp's client would refuse
    to send some)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("POST", "/v1/posts")
        for name, value in {**headers, "Content-Length": str(len(body)).encode()}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_malformed_credentials_are_refused_and_stale_ones_never_pass(settings: Settings) -> None:
    auth = Auth(tokens=(TOKEN,), secret=SECRET, tolerance=300)
    hook = WebhookConnector("127.0.0.1", 0, auth=auth, instance=f"{settings.topic_prefix}-w4")
    one = orjson.dumps(post(1))
    bearer = f"Bearer {TOKEN}".encode()

    def signed_at(timestamp: str) -> dict[str, bytes]:
        signature = hmac.new(SECRET, timestamp.encode() + b"." + one, hashlib.sha256).hexdigest()
        return {
            "X-Postwatch-Timestamp": timestamp.encode(),
            "X-Postwatch-Signature": f"sha256={signature}".encode(),
        }

    async def scenario() -> list[tuple[str, int]]:
        answers = []
        async with harness.running(settings, hook):
            port = await listening(hook)

            def ask(case: str, headers: dict[str, bytes]) -> None:
                answers.append((case, raw_post(port, one, headers)))

            now = str(int(time.time()))
            fresh = signed_at(now)
            await asyncio.to_thread(
                ask, "token not UTF-8", {"Authorization": b"Bearer \xff\xfe", **fresh}
            )
            await asyncio.to_thread(
                ask, "token not ASCII", {"Authorization": "Bearer é".encode(), **fresh}
            )
            await asyncio.to_thread(
                ask, "scheme not UTF-8", {"Authorization": b"\xff " + TOKEN.encode(), **fresh}
            )
            for stamp in (
                "nan",
                "NaN",
                "inf",
                "-inf",
                "1e3",
                f"{now}.5",
                f"+{now}",
                "１７５０",
                "-1",
            ):
                await asyncio.to_thread(
                    ask, f"timestamp {stamp}", {"Authorization": bearer, **signed_at(stamp)}
                )
            for signature in (b"sha256=\xff", "sha256=é".encode()):
                headers = {**fresh, "X-Postwatch-Signature": signature}
                await asyncio.to_thread(
                    ask, f"signature {signature!r}", {"Authorization": bearer, **headers}
                )
            await asyncio.to_thread(
                ask,
                "timestamp not UTF-8",
                {"Authorization": bearer, **fresh, "X-Postwatch-Timestamp": b"\xff"},
            )
            await asyncio.to_thread(
                ask,
                "cookie not UTF-8",
                {"Authorization": bearer, **fresh, "Cookie": b"a=\xff\xc3\xa9"},
            )
        return answers

    answers = asyncio.run(scenario())
    assert answers[-1] == ("cookie not UTF-8", 202)  # a cookie is no credential here
    refused = dict.fromkeys(dict(answers[:-1]), 403)  # wrong credentials
    refused["scheme not UTF-8"] = 401  # no bearer token at all
    assert dict(answers[:-1]) == refused


def test_the_errors_of_a_body_of_bad_lines_are_listed_up_to_a_limit(settings: Settings) -> None:
    hook = WebhookConnector("127.0.0.1", 0, auth=Auth(), instance=f"{settings.topic_prefix}-w5")
    lines = 400_000
    body = b"1\n" * lines  # 800 KB: within the body limit

    async def scenario() -> tuple[int, bytes]:
        async with harness.running(settings, hook):
            port = await listening(hook)
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    URL.format(port=port),
                    data=body,
                    headers={"Content-Type": "application/x-ndjson"},
                ) as response,
            ):
                return response.status, await response.read()

    status, raw = asyncio.run(scenario())
    answer = orjson.loads(raw)
    assert status == 400
    assert len(raw) < 64 * 1024
    assert (answer["accepted"], answer["rejected"]) == (0, lines)
    assert [e["line"] for e in answer["errors"]] == list(range(1, ERRORS_LISTED + 1))
    assert answer["errors_not_listed"] == lines - ERRORS_LISTED
