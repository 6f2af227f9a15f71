"""`postwatch demo`: a local broker, a worker, a replay of sample posts, alerts on screen."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import IO

import click
import orjson
from rich.console import Console

from postwatch.alerts.tail import render_alert
from postwatch.connectors.jsonl import run_jsonl
from postwatch.kafka.clients import TopicPartition, new_consumer
from postwatch.kafka.topics import ALERTS, ensure_topics
from postwatch.settings import Settings

__all__ = ["DEMO_PACK", "DEMO_POSTS", "kafka_script", "run_demo"]

DEMO_PACK = Path(str(resources.files("postwatch.data").joinpath("demo/pack.yaml")))
DEMO_POSTS = Path(str(resources.files("postwatch.data").joinpath("demo/posts.jsonl")))
_WORKER_STOP_S = 30


def kafka_script() -> Path:
    """deploy/kafka/kafka.sh: packaged in a wheel, or in the source tree of a checkout."""
    packaged = Path(str(resources.files("postwatch").joinpath("_kafka/kafka.sh")))
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "deploy" / "kafka" / "kafka.sh"


def _local_broker(console: Console) -> bool:
    """Start the local broker unless it runs; True if this call started it."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise click.ClickException(
            f"{' and '.join(missing)} not found: the local Kafka broker needs Java 17+ and "
            "Maven (Debian: apt-get install openjdk-17-jre-headless maven), or point "
            "POSTWATCH_KAFKA_BOOTSTRAP at an existing Kafka cluster instead."
        )
    script = kafka_script()
    status = subprocess.run(["bash", str(script), "status"], capture_output=True, check=False)
    if status.returncode == 0:
        console.print("[dim]local Kafka broker already running[/]")
        return False
    console.print(
        "starting a local Kafka broker (the first run downloads its jars from Maven "
        "Central, which takes a minute or two)…"
    )
    if subprocess.run(["bash", str(script), "start"], check=False).returncode != 0:
        raise click.ClickException("the local Kafka broker did not start; see the messages above")
    return True


def _start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        POSTWATCH_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        POSTWATCH_TOPIC_PREFIX=settings.topic_prefix,
    )
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "postwatch", "worker", "--rules", str(DEMO_PACK)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_WORKER_STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _show_alerts(
    settings: Settings,
    rate: float,
    console: Console,
    worker: subprocess.Popen[bytes],
    posts: IO[bytes],
) -> None:
    partition_counts = await ensure_topics(settings)
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        topic = settings.topic(ALERTS)
        partitions = [TopicPartition(topic, p) for p in range(partition_counts[topic])]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # fix the positions now, before any alert of this run exists
            await consumer.position(tp)
        replay = asyncio.create_task(run_jsonl(settings, posts, rate=rate))
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    console.print(render_alert(orjson.loads(record.value or b"{}")))
            if replay.done() and replay.exception() is not None:
                raise click.ClickException(f"replay failed: {replay.exception()}")
            if worker.poll() is not None:
                raise click.ClickException(
                    f"the worker stopped (exit {worker.returncode}); see its log"
                )
    finally:
        await consumer.stop()


def run_demo(settings: Settings, *, rate: float, local_broker: bool) -> None:
    """Run the demo until Ctrl-C; `local_broker` starts (and later stops) a local broker."""
    console = Console(highlight=False)
    started_broker = _local_broker(console) if local_broker else False
    log_path = Path(tempfile.gettempdir()) / "postwatch-demo-worker.log"
    worker = _start_worker(settings, log_path)
    console.print(
        f"worker started (log: {log_path}); replaying {DEMO_POSTS.name} at "
        f"{rate:g} posts/s with the rule pack {DEMO_PACK.name}. Ctrl-C to stop."
    )
    try:
        with DEMO_POSTS.open("rb") as posts:
            asyncio.run(_show_alerts(settings, rate, console, worker, posts))
    except KeyboardInterrupt:
        console.print("\nstopping…")
    finally:
        _stop(worker)
        if started_broker:
            with contextlib.suppress(OSError):
                subprocess.run(["bash", str(kafka_script()), "stop"], check=False)
