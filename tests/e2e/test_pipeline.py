"""Whole processes: `postwatch connect jsonl` → `postwatch worker` → alerts read with kcat,
as a SOC tool would, and `postwatch demo` from start to Ctrl-C."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from postwatch.demo import DEMO_PACK, DEMO_POSTS
from postwatch.rules import Alert, Engine, load_packs, parse_post
from postwatch.schemas import schema_text
from postwatch.settings import Settings
from tests.conftest import env_for, stop_process


def expected_alert_ids() -> set[str]:
    engine = Engine(load_packs([DEMO_PACK]))
    with DEMO_POSTS.open("rb") as lines:
        return {
            Alert.of_match(m).alert_id for line in lines for m in engine.evaluate(parse_post(line))
        }


def kcat_records(settings: Settings, topic: str) -> list[tuple[str, str]]:
    """(key, value) of every record of the topic, read with kcat."""
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    assert kcat, "kcat is not installed (Debian: apt-get install kcat)"
    command = [kcat, "-C", "-b", settings.kafka_bootstrap, "-t", topic, "-o", "beginning"]
    result = subprocess.run(
        [*command, "-e", "-q", "-f", "%k\\t%s\\n"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [
        (key, value)
        for key, _, value in (line.partition("\t") for line in result.stdout.decode().splitlines())
    ]


def replay_demo_posts(settings: Settings) -> str:
    """`postwatch connect jsonl` over the demo posts; what it said on standard error."""
    connector = subprocess.run(
        [sys.executable, "-m", "postwatch", "connect", "jsonl", "--input", str(DEMO_POSTS)],
        env=env_for(settings),
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert connector.returncode == 0, connector.stderr.decode()
    return connector.stderr.decode()


def test_connector_to_worker_to_kcat(
    settings: Settings, start_worker: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    expected = expected_alert_ids()
    assert len(expected) == 19  # "#ExampleFront" is the demo pack's "example front" too
    worker = start_worker(DEMO_PACK)
    assert "129 posts produced, 0 lines skipped" in replay_demo_posts(settings)

    schema = json.loads(schema_text("alert"))
    deadline = time.monotonic() + 90
    lines: list[str] = []
    while time.monotonic() < deadline and len(lines) < len(expected):
        time.sleep(1)
        lines = [value for _, value in kcat_records(settings, settings.topic("alerts"))]
    assert worker.poll() is None
    alerts = [json.loads(line) for line in lines]
    for alert in alerts:
        jsonschema.validate(alert, schema)
    assert {a["alert_id"] for a in alerts} == expected


def read_until(stream: object, needle: str, count: int, timeout: float) -> str:
    """Read a process's output until `needle` was seen `count` times."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and seen.decode(errors="replace").count(needle) < count:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


@pytest.mark.timeout(240)
def test_demo_shows_alerts_and_stops_on_ctrl_c(settings: Settings) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "postwatch", "demo", "--rate", "100"],
        env=env_for(settings, COLUMNS="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        output = read_until(demo.stdout, "evidence:", 19, timeout=120)
    finally:
        code = stop_process(demo, signal.SIGINT)
    assert output.count("evidence:") == 19, output
    assert "Known propaganda image" in output
    assert "CRITICAL" in output
    assert code == 0
