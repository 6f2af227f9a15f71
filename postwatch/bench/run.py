"""Measurements on the real broker, all in one run so that they compare:

(a) the raw ceiling: a consumer that reads the posts topic and produces each record
    unchanged to another topic, no parsing, tuned: each of `RAW_TRIALS` (producer linger
    and batch size, records a `getmany` takes, bytes a fetch takes of a partition) is
    run and the best counts;
(b) one `postwatch worker` over the same records, its pack compiled cold ((a) and (b) go
    over the posts twice);
(c) two workers in one consumer group, over the records four times (one of them takes
    every partition until the other is in), the pack from the cache;
(d) an alert storm: one worker with a pack whose rules match about half of the posts,
    several rules each, logging at info;
then the end-to-end latency (`observed_at` of a post → its alert produced) with one worker
fed at half of (b)'s rate for 30 s (the posts again, under new ids, if they run out first).

Throughput is the rate at which the consumer group's committed offsets reach the end of a
pre-filled topic, from the moment every partition has been committed by the whole group to
the last commit, so start-up time is left out; for (c) that is once both workers are in the
group and each has committed its partitions after the rebalance that let the second one in
(the first hands partitions over, the second reads the state of its partitions: a second or
two in which the group commits nothing). Each is also given with start-up: from the
workers' launch to the last commit; and start-up itself, from launch to the first commit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import orjson
import uvloop

from postwatch.bench.workload import Workload
from postwatch.kafka.clients import (
    AIOKafkaAdminClient,
    NewTopic,
    TopicPartition,
    full_batches,
    new_admin,
    new_consumer,
    new_producer,
    send_all,
)
from postwatch.kafka.topics import ALERTS, POSTS, create_topics, ensure_topics
from postwatch.rules.alerts import decode, isoformat
from postwatch.settings import Settings

__all__ = ["RAW_TRIALS", "BenchResult", "RawTrial", "describe", "run_bench"]

_POLL_S = 0.2
_ONE_COPIES = 2  # (a)'s and (b)'s posts, in copies of the workload's: windows of seconds
_TWO_COPIES = 4  # (c)'s
_WORKER_STOP_S = 30


class RawTrial(msgspec.Struct, frozen=True):
    """Settings of the raw loop, and what it did with them. `batched`: the records a fetch
    gave of a partition are produced as whole batches (`send_batch`), not one by one."""

    linger_ms: int
    max_batch_size: int
    max_records: int
    max_partition_fetch_bytes: int
    batched: bool = False
    posts_per_s: float = 0.0


RAW_TRIALS = (
    # linger, batch bytes, records a getmany takes, bytes a fetch takes of a partition
    RawTrial(5, 262_144, 2_000, 1 << 20),  # the worker's own
    RawTrial(5, 262_144, 5_000, 1 << 20),
    RawTrial(10, 1 << 20, 10_000, 4 << 20),
    RawTrial(20, 1 << 20, 20_000, 8 << 20),
    RawTrial(5, 1 << 20, 5_000, 1 << 20, batched=True),
    RawTrial(20, 1 << 20, 20_000, 8 << 20, batched=True),
)


class BenchResult(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of one run; `encode` writes them with the two ratios."""

    posts: int
    partitions: int
    raw_posts_per_s: float
    raw_trials: tuple[RawTrial, ...]
    one_worker_posts_per_s: float
    one_worker_with_startup_posts_per_s: float
    startup_cold_s: float
    two_workers_posts_per_s: float
    two_workers_with_startup_posts_per_s: float
    startup_cached_s: float
    storm_posts_per_s: float
    storm_alerts: int
    storm_alerts_per_s: float
    storm_log_bytes_per_100k_posts: float
    latency_rate_per_s: float
    latency_alerts: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    alerts_expected: int
    alerts_one_worker: int

    @property
    def worker_over_raw(self) -> float:
        return self.one_worker_posts_per_s / self.raw_posts_per_s

    @property
    def two_over_one(self) -> float:
        return self.two_workers_posts_per_s / self.one_worker_posts_per_s

    def encode(self) -> bytes:
        """The figures and the ratios b / a and c / b as an indented JSON object."""
        figures = msgspec.to_builtins(self)
        figures |= {"worker_over_raw": self.worker_over_raw, "two_over_one": self.two_over_one}
        return msgspec.json.format(msgspec.json.encode(figures), indent=2)


@dataclass(frozen=True, slots=True)
class _Run:
    """One timed run of workers: when they were launched, when their group first
    committed, when it first committed with all its members in (and how far it was then),
    and when the commits reached the end."""

    launched: float
    started: float
    first: float
    first_done: int
    end: float
    total: int

    @property
    def rate(self) -> float:
        """Posts/s after start-up."""
        return (self.total - self.first_done) / (self.end - self.first)

    @property
    def with_startup(self) -> float:
        return self.total / (self.end - self.launched)

    @property
    def startup_s(self) -> float:
        """From launch to the first commit: the first posts went through."""
        return self.started - self.launched


def _fresh(settings: Settings, label: str) -> Settings:
    return replace(settings, topic_prefix=f"bench-{label}-{uuid.uuid4().hex[:8]}")


async def _fill(settings: Settings, lines: list[bytes]) -> None:
    """Produce every post line to the posts topic as fast as the broker takes them."""
    await ensure_topics(settings)
    producer = new_producer(settings, linger_ms=20, max_batch_size=262_144)
    await producer.start()
    try:
        observed = isoformat(datetime.now(UTC))

        def observed_now(line: bytes) -> tuple[bytes, bytes]:
            doc = orjson.loads(line)
            doc["observed_at"] = observed
            return doc["author"]["id"].encode(), orjson.dumps(doc)

        await send_all(producer, settings.topic(POSTS), map(observed_now, lines))
    finally:
        await producer.stop()


async def _committed(admin: AIOKafkaAdminClient, group: str) -> dict[TopicPartition, int]:
    """The group's committed offset of each partition it has committed."""
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset > 0}


async def _stable(admin: AIOKafkaAdminClient, group: str, members: int) -> bool:
    """Whether the group has `members` members and no rebalance under way."""
    [response] = await admin.describe_consumer_groups([group])
    return any(
        entry[2] == "Stable" and len(entry[5]) == members  # (error, id, state, …, members)
        for entry in response.groups
    )


async def _throughput(
    settings: Settings,
    total: int,
    group: str,
    deadline_s: float,
    launched: float,
    *,
    members: int = 1,
) -> _Run:
    """When the group's committed offsets went to `total` from where they were once every
    partition had been committed by the whole group (its `members` members in, no
    rebalance under way); the workers were launched at `launched` (`time.monotonic`)."""
    admin = new_admin(settings)
    await admin.start()
    try:
        started: float | None = None
        stable: dict[TopicPartition, int] | None = None  # the offsets when the group was whole
        first: tuple[float, int] | None = None
        while time.monotonic() - launched < deadline_s:
            offsets = await _committed(admin, group)
            done = sum(offsets.values())
            now = time.monotonic()
            if done and started is None:
                started = now
            if done and stable is None and await _stable(admin, group, members):
                stable = offsets
            if (
                first is None
                and stable is not None
                and len(offsets) == settings.posts_partitions
                and all(offset > stable.get(tp, 0) for tp, offset in offsets.items())
            ):
                first = (now, done)
            if done >= total:
                if first is None or done == first[1]:
                    raise BenchError(
                        "the posts were all committed before the whole group was at work: "
                        "use more posts"
                    )
                assert started is not None
                return _Run(launched, started, first[0], first[1], now, total)
            await asyncio.sleep(_POLL_S)
        raise BenchError(f"the group {group} did not get through {total} posts in {deadline_s} s")
    finally:
        await admin.close()


class BenchError(Exception):
    """A measurement could not be taken; the message says why."""


async def _raw_ceiling(settings: Settings, total: int, trial: RawTrial, label: str) -> float:
    """Consume the posts topic and produce each record unchanged to a copy topic."""
    source = settings.topic(POSTS)
    target = settings.topic(f"bench-copy-{label}")
    await create_topics(settings, [NewTopic(target, settings.posts_partitions, 1)])
    consumer = new_consumer(
        settings,
        source,
        group_id=f"{settings.topic_prefix}-raw-{label}",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=trial.max_partition_fetch_bytes,
    )
    producer = new_producer(
        settings, linger_ms=trial.linger_ms, max_batch_size=trial.max_batch_size
    )
    await consumer.start()
    await producer.start()
    try:
        seen = 0
        started: float | None = None
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=trial.max_records)
            if started is None and batches:
                started = time.monotonic()
            if trial.batched:
                pending = [
                    await producer.send_batch(batch, target, partition=tp.partition)
                    for tp, records in batches.items()
                    for batch in full_batches(producer, records)
                ]
            else:
                pending = [
                    await producer.send(target, record.value, key=record.key)
                    for records in batches.values()
                    for record in records
                ]
            await asyncio.gather(*pending)
            await consumer.commit()
            seen += sum(map(len, batches.values()))
        assert started is not None
        return total / (time.monotonic() - started)
    finally:
        await producer.stop()
        await consumer.stop()


@contextmanager
def _workers(
    settings: Settings, pack: Path, count: int, logs: Path, *, log_level: str = "warning"
) -> Iterator[float]:
    """Run `count` workers of `pack` (their compiled packs kept under `logs`); gives the
    moment they were launched (`time.monotonic`)."""
    env = {
        **os.environ,
        "POSTWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "POSTWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "POSTWATCH_RULES": str(pack),
        "POSTWATCH_LOG_LEVEL": log_level,
        "POSTWATCH_CACHE_DIR": str(logs / "cache"),
    }
    processes = []
    launched = time.monotonic()
    for i in range(count):
        log = _log(logs, settings, i).open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "postwatch", "worker"], env=env, stdout=log, stderr=log
            )
        )
    try:
        yield launched
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(_WORKER_STOP_S)
            except subprocess.TimeoutExpired:
                process.kill()


def _log(logs: Path, settings: Settings, worker: int) -> Path:
    return logs / f"{settings.topic_prefix}-worker-{worker}.log"


async def _count(settings: Settings, topic: str) -> int:
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.posts_partitions)]
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def _latency(
    settings: Settings, lines: list[bytes], rate: float, seconds: float
) -> tuple[list[float], float]:
    """Feed posts at `rate` for `seconds` (the lines over again, their ids suffixed with the
    round, where they run out first); the latency (ms) of every alert they raise, and the
    rate at which they were fed (less than `rate` where the feeder could not keep up)."""
    await ensure_topics(settings)
    alerts = new_consumer(settings, settings.topic(ALERTS), auto_offset_reset="earliest")
    producer = new_producer(settings, linger_ms=1)
    await alerts.start()
    await producer.start()
    latencies: list[float] = []
    first_alert = asyncio.Event()

    async def collect() -> None:
        async for record in alerts:
            post = decode(record.value).post
            if post.observed_at is None:  # no post of the bench's
                continue
            observed = datetime.fromisoformat(post.observed_at).timestamp()
            latencies.append(record.timestamp - observed * 1000)
            first_alert.set()

    collector = asyncio.create_task(collect())
    try:
        topic = settings.topic(POSTS)
        # warm-up: the first post of the workload matches; once its alert is back, the
        # worker is in its group with its rules loaded and the clock can start
        warm = orjson.loads(lines[0])
        warm["id"] += "-warm-up"
        warm["observed_at"] = isoformat(datetime.now(UTC))
        await producer.send_and_wait(topic, orjson.dumps(warm), key=b"warm-up")
        async with asyncio.timeout(300):
            await first_alert.wait()
        latencies.clear()
        count = int(rate * seconds)
        started = time.monotonic()
        for i in range(count):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            round_, k = divmod(i, len(lines))
            doc = orjson.loads(lines[k])
            if round_:  # a post of its own, not one the worker has seen
                doc["id"] += f"-{round_}"
            doc["observed_at"] = isoformat(datetime.now(UTC))
            await producer.send(topic, orjson.dumps(doc), key=doc["author"]["id"].encode())
        await producer.flush()
        fed = count / (time.monotonic() - started)
        await asyncio.sleep(5)  # the last alerts arrive
    finally:
        collector.cancel()
        await producer.stop()
        await alerts.stop()
    return latencies, fed


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def run_bench(
    settings: Settings,
    workload: Workload,
    *,
    logs: Path,
    progress: Callable[[str], None],
    latency_s: float = 30.0,
) -> BenchResult:
    """Run every measurement over the workload and return the figures."""
    lines = workload.posts.read_bytes().splitlines()
    total = len(lines)
    deadline = max(300.0, total / 500)

    copies = _ONE_COPIES * total  # what (a) and (b) go over
    progress(f"(a) raw ceiling over {total:,} posts twice, {len(RAW_TRIALS)} settings")
    raw_settings = _fresh(settings, "raw")
    asyncio.run(_fill(raw_settings, lines * _ONE_COPIES))
    trials = []
    for number, trial in enumerate(RAW_TRIALS):
        rate = uvloop.run(_raw_ceiling(raw_settings, copies, trial, str(number)))  # as workers
        trials.append(msgspec.structs.replace(trial, posts_per_s=rate))
        progress(f"    {rate:,.0f} posts/s with {describe(trial)}")
    raw = max(trial.posts_per_s for trial in trials)

    progress("(b) one worker over the posts twice, its pack compiled cold")
    one = _fresh(settings, "one")
    asyncio.run(_fill(one, lines * _ONE_COPIES))
    with _workers(one, workload.pack, 1, logs) as launched:
        one_run = asyncio.run(_throughput(one, copies, one.group, deadline, launched))
    alerts_one = asyncio.run(_count(one, one.topic(ALERTS)))
    expected = _ONE_COPIES * workload.matching_posts
    progress(
        f"    {one_run.rate:,.0f} posts/s ({one_run.with_startup:,.0f} with start-up, "
        f"{one_run.startup_s:.1f} s), {alerts_one:,} alerts (expected {expected:,})"
    )

    progress("(c) two workers in one group, over the posts four times, the pack from the cache")
    two = _fresh(settings, "two")
    asyncio.run(_fill(two, lines * _TWO_COPIES))  # the second worker joins while the first runs
    with _workers(two, workload.pack, 2, logs) as launched:
        two_run = asyncio.run(
            _throughput(two, _TWO_COPIES * total, two.group, deadline, launched, members=2)
        )
    progress(
        f"    {two_run.rate:,.0f} posts/s ({two_run.with_startup:,.0f} with start-up, "
        f"{two_run.startup_s:.1f} s)"
    )

    progress("(d) alert storm: one worker, rules that match half of the posts, logging at info")
    storm = _fresh(settings, "storm")
    asyncio.run(_fill(storm, lines))
    with _workers(storm, workload.storm, 1, logs, log_level="info") as launched:
        storm_run = asyncio.run(_throughput(storm, total, storm.group, deadline, launched))
    storm_alerts = asyncio.run(_count(storm, storm.topic(ALERTS)))
    storm_log = _log(logs, storm, 0).stat().st_size
    progress(
        f"    {storm_run.rate:,.0f} posts/s, {storm_alerts / total * storm_run.rate:,.0f} "
        f"alerts/s, {storm_log / total * 100_000:,.0f} bytes of log per 100,000 posts"
    )

    rate = one_run.rate / 2
    progress(f"latency: one worker fed at {rate:,.0f} posts/s for {latency_s:.0f} s")
    late = _fresh(settings, "latency")
    asyncio.run(ensure_topics(late))
    with _workers(late, workload.pack, 1, logs):
        latencies, fed = asyncio.run(_latency(late, lines, rate, latency_s))
    progress(f"    fed at {fed:,.0f} posts/s, {len(latencies):,} alerts timed")
    return BenchResult(
        posts=total,
        partitions=settings.posts_partitions,
        raw_posts_per_s=raw,
        raw_trials=tuple(trials),
        one_worker_posts_per_s=one_run.rate,
        one_worker_with_startup_posts_per_s=one_run.with_startup,
        startup_cold_s=one_run.startup_s,
        two_workers_posts_per_s=two_run.rate,
        two_workers_with_startup_posts_per_s=two_run.with_startup,
        startup_cached_s=two_run.startup_s,
        storm_posts_per_s=storm_run.rate,
        storm_alerts=storm_alerts,
        storm_alerts_per_s=storm_alerts / total * storm_run.rate,
        storm_log_bytes_per_100k_posts=storm_log / total * 100_000,
        latency_rate_per_s=fed,
        latency_alerts=len(latencies),
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p95_ms=_percentile(latencies, 0.95),
        latency_p99_ms=_percentile(latencies, 0.99),
        alerts_expected=expected,
        alerts_one_worker=alerts_one,
    )


def describe(trial: RawTrial) -> str:
    """The settings of a trial of the raw loop, in words."""
    return (
        f"{'whole batches' if trial.batched else 'one by one'}, linger {trial.linger_ms} ms, "
        f"batches of {trial.max_batch_size:,} bytes, getmany {trial.max_records:,} records, "
        f"fetch {trial.max_partition_fetch_bytes:,} bytes"
    )
