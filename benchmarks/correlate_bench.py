"""Throughput, latency and restore time of `postwatch correlate` on the real broker, against
the same correlation in-process and a bare consume loop over the same alerts.

    bash deploy/kafka/kafka.sh start
    python benchmarks/correlate_bench.py [--alerts 100000] [--originals 100000]

Makes ALERTS mirror reappearance alerts (Alert v1, as workers produce them): each re-posts
one of ORIGINALS original posts, by one of a pool of authors, an hour of posts apart by
post time, so that most originals hold an open campaign window and few reach a campaign
(those that do raise one alert and updates). Then, in one run:

1. in-process: the correlation library (`Correlator`) over the decoded alerts, alerts/s;
2. a bare consume loop: aiokafka reading the alerts topic to its end, decoding nothing;
3. `postwatch correlate` over the alerts already on the topic: from its start to its group's
   offsets at the end of the alerts topic, start-up included (what it routed to its internal
   topics may not all be handled by then);
4. latency: three accounts re-posting a fresh original, produced once it has caught up with
   the alerts topic; from the third one's send to the campaign alert on the alerts topic
   (behind whatever its internal topics still held);
5. restore: correlate killed with SIGKILL and started again, from its start to the campaign
   alert of a fresh original produced before it; its tables hold a window per original.

Prints each figure with the settings it ran with.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from postwatch.kafka.clients import (
    TopicPartition,
    new_admin,
    new_consumer,
    new_producer,
    send_all,
)
from postwatch.kafka.topics import ALERTS, ensure_topics
from postwatch.rules.alerts import Alert, AlertAuthor, AlertPost, AlertRule, decode, encode
from postwatch.rules.detectors.correlation import Correlator
from postwatch.rules.language.model import CorrelationConfig, Evidence
from postwatch.settings import Settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def reappearance(n: int, original: int, author: int, at: datetime) -> Alert:
    """A mirror reappearance alert: post `n` by `author` re-posts `original`."""
    return Alert(
        alert_id=f"{n:032x}",
        kind="reappearance",
        detected_at="2026-01-01T00:00:00.000Z",
        rule=AlertRule(
            id=f"reappearance/text/{original:032x}",
            version=1,
            pack="postwatch.mirror",
            title="Reappearance",
            severity="high",
            tags=("reappearance",),
        ),
        post=AlertPost(
            id=f"bench:{n}",
            source="bench",
            created_at=at.isoformat(),
            author=AlertAuthor(id=f"bench:author{author}"),
            excerpt="",
        ),
        evidence=(
            Evidence(
                "text_fingerprint",
                "text",
                f"text/{original:032x}",
                original_post_id=f"bench:original{original}",
                original_author_id=f"bench:listed{original % 300}",
                relation="mirror",
            ),
        ),
        shadow=False,
    )


def workload(alerts: int, originals: int, seed: int) -> list[Alert]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    authors = max(1, alerts // 2)
    return [
        reappearance(
            n,
            rng.randrange(originals),
            rng.randrange(authors),
            T0 + timedelta(seconds=n * 3600 * originals / alerts / 50),
        )
        for n in range(alerts)
    ]


def in_process(alerts: list[bytes]) -> float:
    correlator = Correlator(CorrelationConfig())
    now = datetime.now(UTC)
    started = time.perf_counter()
    for value in alerts:
        correlator.observe(decode(value), now)
    return len(alerts) / (time.perf_counter() - started)


async def bare_loop(settings: Settings, count: int) -> float:
    consumer = new_consumer(
        settings, settings.topic(ALERTS), auto_offset_reset="earliest", max_poll_records=5000
    )
    await consumer.start()
    seen, started = 0, time.perf_counter()
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(batch) for batch in batches.values())
    finally:
        await consumer.stop()
    return count / (time.perf_counter() - started)


async def caught_up(settings: Settings, group: str) -> bool:
    """Whether `group` has committed the end of every partition of the alerts topic."""
    topic = settings.topic(ALERTS)
    admin = new_admin(settings)
    consumer = new_consumer(settings, topic)
    await admin.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            return False
        ends = await consumer.end_offsets(parts)
        committed = await admin.list_consumer_group_offsets(group)
        return all(
            committed.get(tp) is not None and committed[tp].offset >= ends[tp] for tp in parts
        )
    finally:
        await consumer.stop()
        await admin.close()


async def first_campaign(
    settings: Settings, original: str, wait: float, ready: asyncio.Event
) -> float | None:
    """When (time.monotonic) a campaign alert of `original` comes on the alerts topic, read
    from its end as it was when `ready` was set."""
    consumer = new_consumer(settings, settings.topic(ALERTS))
    await consumer.start()
    deadline = time.monotonic() + wait
    try:
        await consumer.getmany(timeout_ms=500)  # positions taken: the end of each partition
        ready.set()
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                for record in batch:
                    alert = decode(record.value or b"")
                    if alert.kind == "campaign" and alert.rule.id == f"campaign/{original}":
                        return time.monotonic()
    finally:
        await consumer.stop()
    return None


async def produce(settings: Settings, alerts: list[Alert]) -> None:
    producer = new_producer(settings, linger_ms=5, max_batch_size=262_144)
    await producer.start()
    try:
        await send_all(
            producer,
            settings.topic(ALERTS),
            [(a.alert_id.encode(), encode(a)) for a in alerts],
        )
    finally:
        await producer.stop()


def fresh_campaign(first: int, original: int) -> list[Alert]:
    at = T0 + timedelta(days=400)
    return [reappearance(first + k, original, 10**9 + first + k, at) for k in range(3)]


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "postwatch", "correlate"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def until_caught_up(settings: Settings, group: str, wait: float) -> float:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if await caught_up(settings, group):
            return time.monotonic()
        await asyncio.sleep(0.5)
    raise SystemExit(f"correlate did not catch up within {wait:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--originals", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()

    prefix = f"cbench-{uuid.uuid4().hex[:8]}"
    settings = replace(Settings.from_env(), topic_prefix=prefix)
    env = {
        **os.environ,
        "POSTWATCH_TOPIC_PREFIX": prefix,
        "POSTWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
    }
    alerts = workload(args.alerts, args.originals, args.seed)
    values = [encode(a) for a in alerts]
    print(f"{args.alerts:,} reappearance alerts over {args.originals:,} originals")
    print(f"  in-process Correlator:        {in_process(values):>10,.0f} alerts/s")
    asyncio.run(ensure_topics(settings))
    asyncio.run(produce(settings, alerts))
    bare = asyncio.run(bare_loop(settings, len(alerts)))
    print(f"  bare consume loop:            {bare:>10,.0f} alerts/s")

    group = f"{prefix}-correlate"
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "correlate.log"
        began = time.monotonic()
        process = start(env, log)
        try:
            done = asyncio.run(until_caught_up(settings, group, wait=1800))
            print(
                f"  postwatch correlate:          {len(alerts) / (done - began):>10,.0f} alerts/s"
                f" (start-up included: {done - began:.1f} s for all)"
            )
            latency = asyncio.run(_latency(settings, args.originals + 1))
            print(f"  latency, third account → campaign alert: {latency * 1000:,.0f} ms")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        restored = asyncio.run(_restore(settings, args.originals + 2, lambda: start(env, log)))
        print(
            f"  restart after SIGKILL → next campaign alert: {restored:.1f} s "
            f"(tables of {args.originals:,} open windows restored)"
        )


async def _latency(settings: Settings, original: int) -> float:
    """From the send of a campaign's third account to its alert."""
    probe = fresh_campaign(10**8, original)
    await produce(settings, probe[:2])
    ready = asyncio.Event()
    watcher = asyncio.create_task(first_campaign(settings, f"bench:original{original}", 120, ready))
    await ready.wait()
    sent = time.monotonic()
    await produce(settings, probe[2:])
    seen = await watcher
    if seen is None:
        raise SystemExit("no campaign alert for the latency probe")
    return seen - sent


async def _restore(
    settings: Settings, original: int, restart: Callable[[], subprocess.Popen[bytes]]
) -> float:
    """From the restart to the campaign alert of a campaign produced while it was down."""
    ready = asyncio.Event()
    watcher = asyncio.create_task(first_campaign(settings, f"bench:original{original}", 600, ready))
    await ready.wait()
    await produce(settings, fresh_campaign(2 * 10**8, original))
    began = time.monotonic()
    process = restart()
    try:
        seen = await watcher
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 60)
    if seen is None:
        raise SystemExit("no campaign alert after the restart")
    return seen - began


if __name__ == "__main__":
    main()
