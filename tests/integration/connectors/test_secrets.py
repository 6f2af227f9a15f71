"""Connector secrets come from the environment (out of the process list) and never reach
a log line, not even the error of a request that carried them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from postwatch.connectors.webhook import sign
from postwatch.settings import Settings
from tests.integration.connectors.harness import free_port, start_process, stop, until
from tests.local_server import served

MASTODON_TOKEN = "mastodon-token-4f9c1e"  # noqa: S105 - test credentials for local servers
X_TOKEN = "x-bearer-token-77ab20"  # noqa: S105
PUSH_TOKENS = ("push-token-old-31d", "push-token-new-8e2")
HMAC_SECRET = "hmac-secret-c0ffee"  # noqa: S105
WRONG_TOKEN = "guessed-token-5150"  # noqa: S105
REDIRECTS = 10  # aiohttp gives up after this many


class Redirecting:
    """Sends every request back to itself; the X stream answers 401 after one full chain."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._loop)
        return app

    async def _loop(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization", ""))
        x_requests = [a for a in self.authorizations if a == f"Bearer {X_TOKEN}"]
        if request.path.startswith("/2/") and len(x_requests) > REDIRECTS + 1:
            return web.json_response({"title": "Unauthorized"}, status=401)
        raise web.HTTPFound(request.path_qs)


def test_tokens_from_the_environment_never_reach_the_logs(
    settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "connectors.log"
    env = {
        "POSTWATCH_LOG_LEVEL": "debug",
        "POSTWATCH_MASTODON_TOKEN": MASTODON_TOKEN,
        "POSTWATCH_X_BEARER_TOKEN": X_TOKEN,
        "POSTWATCH_WEBHOOK_TOKENS": " ".join(PUSH_TOKENS),
        "POSTWATCH_WEBHOOK_HMAC_SECRET": HMAC_SECRET,
    }
    name = settings.topic_prefix

    async def push(port: int, token: str) -> int:
        body = orjson.dumps(
            {
                "schema": "postwatch.post/1",
                "id": "hook:1",
                "source": "hook",
                "author": {"id": "hook:me"},
                "created_at": "2025-07-25T10:00:00Z",
                "text": "pushed",
            }
        )
        stamp = str(int(time.time()))
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Postwatch-Timestamp": stamp,
            "X-Postwatch-Signature": sign(HMAC_SECRET.encode(), stamp, body),
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://127.0.0.1:{port}/v1/posts", data=body, headers=headers) as answer,
        ):
            return answer.status

    async def accepting(port: int) -> int:
        for _ in range(100):
            try:
                return await push(port, PUSH_TOKENS[1])
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.2)
        raise AssertionError("the webhook never listened")

    async def scenario() -> None:
        server = Redirecting()
        async with served(server.app()) as base:
            mastodon = start_process(
                settings, log, "mastodon", "--url", base, "--name", f"{name}-m", env=env
            )
            await until(lambda: log.read_text().count("connector.reconnecting") >= 2, wait=30)
            assert await stop(mastodon) == 0
            x = start_process(settings, log, "x", "--url", base, "--name", f"{name}-x", env=env)
            assert await asyncio.to_thread(x.wait, 30) == 1  # the 401 ends it
            port = free_port()
            hook = start_process(settings, log, "webhook", "--listen", f"127.0.0.1:{port}", env=env)
            assert await accepting(port) == 202  # the second token of the variable
            assert await push(port, PUSH_TOKENS[0]) == 202
            assert await push(port, WRONG_TOKEN) == 403
            assert await stop(hook) == 0
        # the secrets were in use...
        assert f"Bearer {MASTODON_TOKEN}" in server.authorizations
        assert f"Bearer {X_TOKEN}" in server.authorizations
        text = log.read_text()
        assert "TooManyRedirects" in text
        assert "HTTP 401" in text
        # ...and none of them, nor the wrong guess, is in any log line
        for secret in (MASTODON_TOKEN, X_TOKEN, *PUSH_TOKENS, HMAC_SECRET, WRONG_TOKEN):
            assert secret not in text

    asyncio.run(scenario())
