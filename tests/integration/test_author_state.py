"""What the detectors hold of each author survives a worker killed with SIGKILL: the
restarted worker alerts a look-alike pair no second time, and an author's escalation window
goes on counting instead of starting again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from postwatch.settings import Settings
from tests.conftest import stop_process
from tests.integration.test_live_rules import Alerts, post, send_once
from tests.unit.rules.detectors.scenario import PACK


@pytest.mark.timeout(300)
def test_look_alike_pairs_and_escalation_windows_survive_a_killed_worker(
    settings: Settings, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    pack = tmp_path / "mirrors.yaml"
    pack.write_text(PACK)
    escalation = {"escalation_count": "3", "escalation_window_s": "3600"}
    worker = start_worker(pack, **escalation)
    alerts = Alerts(settings)
    first = [
        post("1", "hello there", "a", "example_front_official"),
        post("2", "one", "front", "examplefront"),
        post("3", "two", "front", "examplefront"),
    ]
    seen = asyncio.run(alerts.until(lambda a: len(a) >= 3, 90, send_once(settings, first)))
    assert sorted((a["post"]["id"], a["kind"]) for a in seen) == [
        ("test:1", "lookalike_account"),
        ("test:2", "rule"),
        ("test:3", "rule"),
    ]
    stop_process(worker, signal.SIGKILL)
    start_worker(pack, **escalation)
    after = [
        post("4", "hello again", "a", "example_front_official"),
        post("5", "three", "front", "examplefront"),
    ]
    seen = asyncio.run(
        alerts.until(
            lambda a: any(x["kind"] == "escalation" for x in a), 90, send_once(settings, after)
        )
    )
    new = sorted(
        (a["post"]["id"], a["kind"]) for a in seen if a["post"]["id"] in {"test:4", "test:5"}
    )
    # the pair was alerted before the kill: not again; the third alert of `front` in the
    # hour escalates, its window restored from the changelog
    assert new == [("test:5", "escalation"), ("test:5", "rule")]
