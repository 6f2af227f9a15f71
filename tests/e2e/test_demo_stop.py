"""`postwatch demo` stopped by SIGTERM, as a service manager or `timeout` stops it, stops
what it started as Ctrl-C does. Here that is its worker: the broker is the shared one, which
the demo finds running, so it neither starts nor stops it. Records on the alerts topic that
are no alerts do not stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from postwatch.demo import DEMO_PACK, DEMO_POSTS
from postwatch.rules import Engine, load_packs, parse_post
from postwatch.settings import Settings
from tests.conftest import env_for, stop_process
from tests.e2e.test_pipeline import read_until
from tests.integration.alerts.conftest import produce_once
from tests.unit.conftest import alert_doc


def demo_alert() -> dict[str, Any]:
    """The first alert the demo pack raises on the demo posts, as JSON."""
    engine = Engine(load_packs([DEMO_PACK]))
    with DEMO_POSTS.open("rb") as lines:
        for line in lines:
            for match in engine.evaluate(parse_post(line)):
                return alert_doc(match)
    raise AssertionError("the demo pack raises no alert on the demo posts")


def running_children(pid: int) -> list[int]:
    """The processes, not yet exited, that `pid` started."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rpartition(")")[2].split()[:2]
        except OSError:  # gone while looking
            continue
        if int(parent) == pid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(240)
def test_the_demo_passes_over_what_is_no_alert_and_sigterm_stops_it_and_its_worker(
    settings: Settings,
) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "postwatch", "demo", "--rate", "100"],
        env=env_for(settings, COLUMNS="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert demo.stdout is not None
    children: list[int] = []
    try:
        output = read_until(demo.stdout, "evidence:", 1, timeout=120)
        assert "evidence:" in output, output
        children = running_children(demo.pid)
        assert children, "the demo runs no worker"
        alert = demo_alert()
        alert["rule"]["title"] = "shown after what is no alert"
        records = [(b"k", b"\xff not json"), (b"k", b"[1, 2]"), (b"k", orjson.dumps(alert))]
        produce_once(settings, settings.topic("alerts"), records)
        output += read_until(demo.stdout, "shown after what is no alert", 1, timeout=60)
        assert "shown after what is no alert" in output, output
        assert demo.poll() is None
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(60)
        output += demo.stdout.read().decode(errors="replace")
    finally:
        stop_process(demo)
        left = [pid for pid in children if running(pid)]
        for pid in left:  # a worker the demo left behind: this test's to stop
            os.kill(pid, signal.SIGKILL)
    assert left == []
    assert code == 0
    assert "stopping" in output
