"""Fixtures shared by the integration and end-to-end tests: the real local broker, a fresh
topic prefix per test, worker processes, and reading topics back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from postwatch.kafka.topics import ensure_topics
from postwatch.settings import Settings

ROOT = Path(__file__).parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
_LAZY_LOGGER = type(structlog.get_logger())


@pytest.fixture(autouse=True)
def _loggers_cached_by_a_test_are_forgotten() -> Iterator[None]:
    """A command a test runs in this process (CliRunner) configures logging with loggers
    cached on first use: a module's logger would keep that test's standard error and
    processors for good, and escape `capture_logs` in the tests after it. After each test
    the modules' loggers assemble themselves anew."""
    yield
    for name, module in list(sys.modules.items()):
        if name.startswith("postwatch"):
            proxy = getattr(module, "log", None)
            if isinstance(proxy, _LAZY_LOGGER):
                vars(proxy).pop("bind", None)  # the cached `bind` of cache_logger_on_first_use


@pytest.fixture(scope="session")
def broker() -> str:
    """The bootstrap address of the running local broker; fails clearly when there is none."""
    bootstrap = os.environ.get("POSTWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")

    async def probe() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        await admin.start()
        await admin.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 15))
    except Exception as exc:  # any failure means the same thing here
        pytest.fail(
            f"no Kafka broker at {bootstrap} ({exc!r}): start one with "
            "`bash deploy/kafka/kafka.sh start` or set POSTWATCH_KAFKA_BOOTSTRAP"
        )
    return bootstrap


@pytest.fixture
def settings(broker: str) -> Iterator[Settings]:
    """Settings on the local broker with topic names no other test uses; topics created, and
    deleted after the test (the broker holds files open for every partition it has: the
    topics of a whole run would use up its limit of open files)."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    result = replace(Settings.from_env({}), kafka_bootstrap=broker, topic_prefix=prefix)
    asyncio.run(ensure_topics(result))
    yield result
    asyncio.run(_delete_topics(broker, prefix))


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete the topics named `<prefix>.…` and `<prefix>-…` (faust's own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith((f"{prefix}.", f"{prefix}-"))]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a postwatch process needs to use these settings."""
    return {
        **os.environ,
        "POSTWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "POSTWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "POSTWATCH_POSTS_PARTITIONS": str(settings.posts_partitions),
        **extra,
    }


def run_postwatch(
    settings: Settings, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """`postwatch ARGS` run to its end with these settings, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "postwatch", *args],
        env=env_for(settings, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture
def start_worker(
    settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `postwatch worker` processes with a rule pack and extra POSTWATCH_* settings
    (`start(pack, window_s="5")`), logging to `worker-N.log`; all stopped after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(pack: Path, **env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "postwatch", "worker", "--rules", str(pack)],
            env=env_for(settings, **{f"POSTWATCH_{k.upper()}": v for k, v in env.items()}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        stop_process(process)


async def produce(
    settings: Settings, topic: str, records: list[tuple[bytes | None, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(
    settings: Settings, topic: str, *, count: int, wait: float, settle: float = 2.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning until `count` records arrived (or `wait` s passed),
    then go on for `settle` seconds more so that records beyond the expected show up too."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            records.extend(r for batch in batches.values() for r in batch)
            if len(records) >= count:
                deadline = min(deadline, time.monotonic() + settle)
    finally:
        await consumer.stop()
    return records
