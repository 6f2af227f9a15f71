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
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import IO

import click
from rich.console import Console

from postwatch.alerts.feed import AlertRecord, read_alerts
from postwatch.alerts.tail import render_alert
from postwatch.connectors.jsonl import run_jsonl
from postwatch.kafka.topics import ensure_topics
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


def _broker_to_start(console: Console) -> Path | None:
    """kafka.sh when the local broker must be started, None when it runs already."""
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
        return None
    return script


def _start_broker(console: Console, script: Path) -> None:
    console.print(
        "starting a local Kafka broker (the first run downloads its jars from Maven "
        "Central, which takes a minute or two)…"
    )
    if subprocess.run(["bash", str(script), "start"], check=False).returncode != 0:
        raise click.ClickException("the local Kafka broker did not start; see the messages above")


def _interrupt(_signum: int, frame: FrameType | None) -> None:
    """SIGTERM taken as Ctrl-C: handled by whatever handles SIGINT at the moment (within
    asyncio.run, cancelling the main task so that its own cleanup runs first; elsewhere,
    raising KeyboardInterrupt, as also when SIGINT is ignored)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        signal.default_int_handler(signal.SIGINT, frame)


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    """Print the alerts of this run (from the end of the alerts topic as it is now) while
    the posts are replayed, until the worker or the replay fails. A record on the topic that
    is no alert is logged and passed over (`read_alerts`)."""
    await ensure_topics(settings)
    async with read_alerts(settings, "end") as (_, records):
        replay = asyncio.create_task(run_jsonl(settings, posts, rate=rate))
        shown = asyncio.create_task(_print(records, console))
        try:
            while True:
                await asyncio.sleep(0.5)
                if replay.done() and replay.exception() is not None:
                    raise click.ClickException(f"replay failed: {replay.exception()}")
                if worker.poll() is not None:
                    raise click.ClickException(
                        f"the worker stopped (exit {worker.returncode}); see its log"
                    )
        finally:
            for task in (shown, replay):
                task.cancel()
            await asyncio.gather(shown, replay, return_exceptions=True)


async def _print(records: AsyncIterator[AlertRecord], console: Console) -> None:
    async for record in records:
        console.print(render_alert(record.alert))


def run_demo(settings: Settings, *, rate: float, local_broker: bool) -> None:
    """Run the demo until Ctrl-C or SIGTERM (a service manager's or `timeout`'s stop), which
    stop the worker it started and, with `local_broker`, the local broker if it started it
    (or was starting it when stopped)."""
    console = Console(highlight=False)
    with _sigterm_as_ctrl_c():
        broker = _broker_to_start(console) if local_broker else None
        worker: subprocess.Popen[bytes] | None = None
        try:
            if broker is not None:
                _start_broker(console, broker)
            log_path = Path(tempfile.gettempdir()) / "postwatch-demo-worker.log"
            worker = _start_worker(settings, log_path)
            console.print(
                f"worker started (log: {log_path}); replaying {DEMO_POSTS.name} at "
                f"{rate:g} posts/s with the rule pack {DEMO_PACK.name}. Ctrl-C to stop."
            )
            with DEMO_POSTS.open("rb") as posts:
                asyncio.run(_show_alerts(settings, rate, console, worker, posts))
        except KeyboardInterrupt:
            console.print("\nstopping…")
        finally:
            if worker is not None:
                _stop(worker)
            if broker is not None:
                with contextlib.suppress(OSError):
                    subprocess.run(["bash", str(broker), "stop"], check=False)
