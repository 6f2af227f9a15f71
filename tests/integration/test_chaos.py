"""Faults on the real broker while posts flow: a worker killed with SIGKILL, the broker
stopped and started again, one of two workers lost. Every expected alert arrives; repeats
come only as the same alert id."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from postwatch.kafka.topics import ensure_topics
from postwatch.settings import Settings
from tests.brokers import private_broker
from tests.conftest import ROOT, env_for, produce, read_topic, stop_process
from tests.factories import as_records, make_posts

PACK = ROOT / "tests" / "files" / "integration" / "pack.yaml"

pytestmark = pytest.mark.timeout(600)

NO_FLOOD_GUARD = {"flood_alerts_per_minute": "0"}
"""Thousands of alerts of a rule a minute, on purpose: the flood guard's own alert would be
one more than the alert ids these tests count."""


def alert_ids(settings: Settings, count: int, wait: float) -> list[str]:
    records = asyncio.run(read_topic(settings, settings.topic("alerts"), count=count, wait=wait))
    return [(r.key or b"").decode() for r in records]


def wait_for_alerts(settings: Settings, at_least: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if len(alert_ids(settings, at_least, wait=5)) >= at_least:
            return
    pytest.fail(f"fewer than {at_least} alerts after {wait} s")


def all_alert_ids(settings: Settings, expected: set[str], wait: float) -> list[str]:
    """Every alert record's id, read until each expected id is there (repeats count once
    towards that) or `wait` seconds have passed."""
    deadline = time.monotonic() + wait
    ids = alert_ids(settings, len(expected), wait=10)
    while not expected <= set(ids) and time.monotonic() < deadline:
        ids = alert_ids(settings, len(ids) + 1, wait=10)
    return ids


def test_worker_killed_with_sigkill_loses_nothing(
    settings: Settings, start_worker: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    posts, expected = make_posts(100_000, seed=2)
    worker = start_worker(PACK, **NO_FLOOD_GUARD)
    asyncio.run(produce(settings, settings.topic("posts"), as_records(posts)))
    wait_for_alerts(settings, len(expected) // 5, wait=120)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    start_worker(PACK, **NO_FLOOD_GUARD)
    ids = all_alert_ids(settings, expected, wait=300)
    assert set(ids) == expected
    assert len(ids) >= len(expected)


def test_two_workers_one_killed_the_other_takes_over(
    settings: Settings, start_worker: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    posts, expected = make_posts(60_000, seed=3)
    first = start_worker(PACK, **NO_FLOOD_GUARD)
    second = start_worker(PACK, **NO_FLOOD_GUARD)
    time.sleep(8)  # both in the group, partitions shared between them
    asyncio.run(produce(settings, settings.topic("posts"), as_records(posts)))
    wait_for_alerts(settings, len(expected) // 5, wait=120)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    ids = all_alert_ids(settings, expected, wait=300)
    assert second.poll() is None
    assert set(ids) == expected


def test_broker_restart_mid_stream(tmp_path: Path, settings: Settings) -> None:
    with private_broker(tmp_path / "kafka") as broker:
        local = replace(settings, kafka_bootstrap=broker.bootstrap)
        asyncio.run(ensure_topics(local))
        posts, expected = make_posts(40_000, seed=4)
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "postwatch", "worker", "--rules", str(PACK)],
            env=env_for(local, POSTWATCH_FLOOD_ALERTS_PER_MINUTE="0"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            asyncio.run(produce(local, local.topic("posts"), as_records(posts)))
            wait_for_alerts(local, len(expected) // 5, wait=120)
            broker.run("stop")
            time.sleep(5)
            broker.run("start")
            ids = all_alert_ids(local, expected, wait=300)
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert set(ids) == expected
        finally:
            stop_process(worker)
