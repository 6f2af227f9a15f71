"""Running a connector in this process against a local server, and reading what it made."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import REGISTRY

from postwatch.connectors.base import Backoff, Connector
from postwatch.connectors.runtime import run_connector
from postwatch.kafka.topics import DELETIONS
from postwatch.settings import Settings
from tests.conftest import env_for, read_topic, stop_process

FAST = Backoff(initial=0.05, maximum=0.2)


@asynccontextmanager
async def running(settings: Settings, connector: Connector) -> AsyncIterator[asyncio.Task[None]]:
    """Run `connector` until the block ends, then stop it cleanly (final checkpoint)."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_connector(settings, connector, stop=stop, backoff=FAST, checkpoint_interval=0.2)
    )
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def posts(settings: Settings, count: int, wait: float = 30.0) -> list[dict[str, Any]]:
    """The posts in the posts topic once `count` arrived (and whatever came 2 s later)."""
    records = await read_topic(settings, settings.topic("posts"), count=count, wait=wait)
    return [orjson.loads(r.value) for r in records]


async def deletions(settings: Settings, count: int) -> list[str]:
    records = await read_topic(settings, settings.topic(DELETIONS), count=count, wait=20)
    return [orjson.loads(r.value)["id"] for r in records]


async def cursor(settings: Settings, instance: str) -> dict[str, Any] | None:
    """The last cursor stored for `instance`."""
    records = await read_topic(
        settings, settings.topic("connector-state"), count=1_000_000, wait=3, settle=0
    )
    mine = [r for r in records if r.key == instance.encode()]
    return orjson.loads(mine[-1].value)["cursor"] if mine else None


async def until(condition: Callable[[], bool], wait: float = 20.0) -> None:
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def metric(name: str, **labels: str) -> float:
    """A sample of this process's Prometheus registry (0 when never counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def start_process(
    settings: Settings, log: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`postwatch connect ARGS…` as its own process, output to `log`; `env` adds to its
    environment."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "postwatch", "connect", *args],
            env=env_for(settings, **(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then the exit code (the connector flushes and stores its cursor first)."""
    return await asyncio.to_thread(stop_process, process)


def scrape(port: int) -> str:
    """What a process serves at `/metrics` on this local port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode("utf-8"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
