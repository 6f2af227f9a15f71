"""`postwatch rules backtest` on the real broker: a worker raises the live pack's alerts on
recorded posts, and the backtest of a candidate that adds a rule and changes another gives
the known differences; its clear errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from postwatch.settings import Settings
from tests.conftest import env_for, read_topic, stop_process

LIVE = """
pack: bt
version: 1
rules:
  - id: bt-alpha
    title: Alpha
    severity: high
    match: {keywords: [alpha]}
  - id: bt-beta
    title: Beta
    severity: medium
    match: {keywords: [beta]}
"""
CANDIDATE = """
pack: bt
version: 2
rules:
  - id: bt-alpha
    title: Alpha
    severity: high
    match: {keywords: [alpha]}
  - id: bt-beta
    title: Beta, now delta
    severity: medium
    match: {keywords: [delta]}
  - id: bt-omega
    title: Omega
    severity: low
    match: {keywords: [omega]}
"""


def post(post_id: str, text: str) -> bytes:
    return orjson.dumps(
        {
            "schema": "postwatch.post/1",
            "id": f"test:{post_id}",
            "source": "test",
            "author": {"id": "test:someone", "handle": "someone"},
            "created_at": datetime.now(UTC).isoformat(),
            "text": text,
        }
    )


async def send(settings: Settings, values: list[bytes]) -> None:
    """To partition 0, in order: the backtest reads them in this order."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(settings.topic("posts"), value, partition=0)
    finally:
        await producer.stop()


async def committed(settings: Settings) -> int:
    """The worker group's committed offset of posts partition 0 (-1: none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.group)
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(settings.topic("posts"), 0))
    return -1 if found is None else found.offset


def backtest(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "postwatch", "rules", "backtest", *args],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_backtest_counts_what_a_candidate_adds_and_removes_against_the_live_alerts(
    settings: Settings, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    live, candidate = tmp_path / "live.yaml", tmp_path / "candidate.yaml"
    live.write_text(LIVE)
    candidate.write_text(CANDIDATE)
    # before the stretch: raised by the live pack, read by neither side of the backtest
    before = [post(f"old-{n}", "beta") for n in range(3)]
    texts = (
        [(f"a{n}", "alpha") for n in range(10)]  # both: unchanged
        + [(f"b{n}", "beta") for n in range(6)]  # live only: removed
        + [(f"d{n}", "delta") for n in range(4)]  # the changed rule: added
        + [(f"o{n}", "omega") for n in range(3)]  # the new rule: added
        + [(f"bd{n}", "beta and delta") for n in range(5)]  # both
        + [(f"n{n}", "nothing to see") for n in range(20)]
    )
    stretch = [post(post_id, text) for post_id, text in texts]
    worker = start_worker(live)
    asyncio.run(send(settings, before))
    asyncio.run(read_topic(settings, settings.topic("alerts"), count=3, wait=90, settle=0.5))
    time.sleep(1.5)  # the records of the stretch are later than `since` by far
    since = datetime.now(UTC)
    time.sleep(1.5)
    asyncio.run(send(settings, stretch))
    alerts = asyncio.run(read_topic(settings, settings.topic("alerts"), count=3 + 21, wait=90))
    assert len(alerts) == 3 + 10 + 6 + 5
    deadline = time.monotonic() + 60
    while asyncio.run(committed(settings)) < len(before) + len(stretch):
        assert time.monotonic() < deadline, "the worker never committed the posts"
        time.sleep(0.5)
    assert stop_process(worker) == 0
    # not read by the workers yet: counted apart
    asyncio.run(send(settings, [post("late-0", "omega"), post("late-1", "alpha omega")]))

    result = backtest(settings, str(candidate), "--since", since.isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    assert "posts read" in result.stderr  # progress
    report: dict[str, Any] = json.loads(result.stdout)
    rules = {r["rule"]: r for r in report["rules"]}
    assert rules == {
        "bt/bt-alpha": {
            "rule": "bt/bt-alpha",
            "added": 0,
            "removed": 0,
            "unchanged": 10,
            "added_samples": [],
            "removed_samples": [],
        },
        "bt/bt-beta": {
            "rule": "bt/bt-beta",
            "added": 4,
            "removed": 6,
            "unchanged": 5,
            "added_samples": ["test:d0", "test:d1", "test:d2", "test:d3"],
            "removed_samples": ["test:b0", "test:b1", "test:b2", "test:b3", "test:b4"],
        },
        "bt/bt-omega": {
            "rule": "bt/bt-omega",
            "added": 3,
            "removed": 0,
            "unchanged": 0,
            "added_samples": ["test:o0", "test:o1", "test:o2"],
            "removed_samples": [],
        },
    }
    totals = {k: v for k, v in report.items() if k != "rules"}
    assert totals == {
        "since": totals["since"],
        "packs": ["bt"],
        "posts_read": len(stretch) + 2,
        "posts_compared": len(stretch),
        "posts_pending": 2,
        "posts_skipped": 0,
        "candidate_alerts": 10 + 4 + 5 + 3,
        "live_alerts": 10 + 6 + 5,
        "added": 7,
        "removed": 6,
        "unchanged": 15,
        "pending_alerts": 3,
        "not_compared": 0,
    }

    table = backtest(settings, str(candidate), "--since", since.isoformat(), "--samples", "1")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[2].split() == ["bt/bt-beta", "4", "6", "5", "+test:d0", "-test:b0"]
    assert "48 posts compared: 7 alerts added, 6 removed, 15 unchanged" in lines[-1]
    assert "2 posts not read by the workers yet (3 candidate alerts)" in lines[-1]


def test_backtest_errors_are_clear(settings: Settings, tmp_path: Path) -> None:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE)
    bad_since = backtest(settings, str(candidate), "--since", "last tuesday")
    assert bad_since.returncode == 2
    assert "--since 'last tuesday': give a duration" in bad_since.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text(CANDIDATE.replace("keywords: [omega]", "keywords: omega"))
    refused = backtest(settings, str(broken))
    assert refused.returncode == 1
    assert "broken.yaml:" in refused.stderr
    assert "problem(s) in rule packs" in refused.stderr

    elsewhere = Settings(kafka_bootstrap=settings.kafka_bootstrap, topic_prefix="no-such-prefix")
    missing = backtest(elsewhere, str(candidate))
    assert missing.returncode == 1
    assert "there is no topic no-such-prefix.posts" in missing.stderr
