"""Helpers for the alert tests on the real broker: workers with alert settings, Alert v1
records to publish, local webhook servers, and a free port."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer

from postwatch.rules import Engine, load_packs, post_from_dict
from postwatch.settings import Settings
from tests.unit.conftest import alert_doc

PACK = Path(__file__).parent / "pack.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def post(n: int, text: str, author: str = "mastodon:alice", **fields: Any) -> dict[str, Any]:
    return {
        "schema": "postwatch.post/1",
        "id": f"mastodon:{n}",
        "source": "mastodon",
        "url": f"https://mastodon.example/@x/{n}",
        "author": {"id": author, "handle": author.split(":")[1]},
        "created_at": "2025-07-25T10:00:00Z",
        "text": text,
        **fields,
    }


def alerts_for(*posts: dict[str, Any]) -> list[dict[str, Any]]:
    """The alerts the test pack raises for these posts, as a worker would produce them."""
    engine = Engine(load_packs([PACK]))
    return [alert_doc(m) for p in posts for m in engine.evaluate(post_from_dict(p))]


def produce_once(
    settings: Settings,
    topic: str,
    records: list[tuple[bytes, bytes]],
    timestamp_ms: int | None = None,
) -> None:
    """Produce records, each exactly once: a fresh topic's first sends are often retried
    (its partition leaders are still being elected), which without idempotence can write a
    record twice, and these tests count what arrives. `timestamp_ms` dates the records
    (default: now)."""

    async def run() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(topic, value, key=key, timestamp_ms=timestamp_ms)
        finally:
            await producer.stop()

    asyncio.run(run())


def publish_alerts(
    settings: Settings, alerts: list[dict[str, Any]], timestamp_ms: int | None = None
) -> None:
    records = [(a["alert_id"].encode(), orjson.dumps(a)) for a in alerts]
    produce_once(settings, settings.topic("alerts"), records, timestamp_ms)


@pytest.fixture
def start_alert_worker(
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> Callable[..., subprocess.Popen[bytes]]:
    """Start `postwatch worker` with the test pack and extra POSTWATCH_* settings."""
    return partial(start_worker, PACK)


class HookServer:
    """A local webhook on its own thread: answers each request with the next status of
    `answers` (then 200) and keeps every request it got."""

    def __init__(self, answers: list[int] | None = None, always: int | None = None) -> None:
        self.answers = list(answers or [])
        self.always = always
        self.requests: list[tuple[int, bytes]] = []  # (status answered, body)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self) -> list[bytes]:
        return [body for status, body in self.requests if status == 200]

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.always is not None:
            status = self.always
        else:
            status = self.answers.pop(0) if self.answers else 200
        self.requests.append((status, body))
        return web.Response(status=status)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._hook)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())

    def __enter__(self) -> HookServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
