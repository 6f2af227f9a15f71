"""Repeat suppression on the real broker: the windows are in a changelog topic that outlives
the worker, so repeats before and after a restart land in one summary, and a window moves
with its partition to another worker; the worker's /metrics counts it all without post or
author data in any label."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from postwatch.rules.alerts import alert_id
from postwatch.settings import Settings
from tests.conftest import read_topic, stop_process
from tests.integration.alerts.conftest import free_port, post, produce_once

WINDOW_S = 45
TEXT = "Join the Sample Brigade today"


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


def metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return 0.0


def wait_for_metric(port: int, line_start: str, value: float, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = scrape(port)
        except OSError:
            text = ""
        if metric(text, line_start) >= value:
            return text
        time.sleep(0.5)
    pytest.fail(f"{line_start} never reached {value}:\n{text}")


def send(settings: Settings, *posts: dict[str, Any]) -> None:
    records = [(p["author"]["id"].encode(), orjson.dumps(p)) for p in posts]
    produce_once(settings, settings.topic("posts"), records)


@pytest.mark.timeout(240)
def test_repeats_before_and_after_a_restart_are_counted_in_one_summary(
    settings: Settings, start_alert_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    worker = start_alert_worker(suppress_window_s=str(WINDOW_S), metrics_port=str(port))
    send(
        settings,
        post(1, TEXT),
        post(2, TEXT),
        post(3, "join  the SAMPLE brigade today"),  # the same content, written otherwise
        post(4, TEXT, author="mastodon:bob"),  # another author: an alert of its own
    )
    suppressed = 'postwatch_alerts_suppressed_total{rule="it-names"}'
    wait_for_metric(port, suppressed, 2, timeout=90)
    # a batch's posts are counted once what it produced is acknowledged, after its repeats
    exposed = wait_for_metric(port, "postwatch_posts_processed_total", 4, timeout=90)
    assert metric(exposed, "postwatch_posts_processed_total") == 4
    assert metric(exposed, suppressed) == 2
    alerts_line = 'postwatch_alerts_total{kind="rule",rule="it-names",severity="high"}'
    assert metric(exposed, alerts_line) == 2
    assert metric(exposed, "postwatch_suppression_windows_open") == 2
    for private in ("mastodon:", "alice", "bob", "Brigade"):
        assert private not in exposed

    assert stop_process(worker) == 0
    start_alert_worker(suppress_window_s=str(WINDOW_S), metrics_port=str(port))
    send(settings, post(5, TEXT), post(6, TEXT))
    wait_for_metric(port, suppressed, 2, timeout=90)  # both counted by the new worker

    records = asyncio.run(
        read_topic(settings, settings.topic("alerts"), count=3, wait=WINDOW_S + 60)
    )
    alerts = [json.loads(r.value or b"") for r in records]
    rule_alerts = sorted(a["post"]["id"] for a in alerts if a["kind"] == "rule")
    assert rule_alerts == ["mastodon:1", "mastodon:4"]
    [summary] = [a for a in alerts if a["kind"] == "summary"]
    assert summary["summary_of"] == alert_id("it-names", 2, "mastodon:1")
    assert summary["suppressed_count"] == 4
    assert summary["suppressed_post_ids"] == [f"mastodon:{n}" for n in (2, 3, 5, 6)]
    assert len(alerts) == 3


@pytest.mark.timeout(240)
def test_an_open_window_moves_with_its_partition_to_another_worker(
    settings: Settings,
    start_alert_worker: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    first_port, second_port = free_port(), free_port()
    first = start_alert_worker(suppress_window_s=str(WINDOW_S), metrics_port=str(first_port))
    send(settings, post(1, TEXT), post(2, TEXT))
    suppressed = 'postwatch_alerts_suppressed_total{rule="it-names"}'
    wait_for_metric(first_port, suppressed, 1, timeout=90)
    second = start_alert_worker(suppress_window_s=str(WINDOW_S), metrics_port=str(second_port))
    log = tmp_path / "worker-1.log"
    deadline = time.monotonic() + 60
    while "partitions.assigned" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.5)  # until the second worker is in the group
    assert "partitions.assigned" in log.read_text()
    assert stop_process(first) == 0  # its partitions, and the window, go to the second
    send(settings, post(3, TEXT))
    wait_for_metric(second_port, suppressed, 1, timeout=90)  # counted into the moved window

    records = asyncio.run(
        read_topic(settings, settings.topic("alerts"), count=2, wait=WINDOW_S + 60)
    )
    assert second.poll() is None
    alerts = [json.loads(r.value or b"") for r in records]
    assert [a["post"]["id"] for a in alerts if a["kind"] == "rule"] == ["mastodon:1"]
    [summary] = [a for a in alerts if a["kind"] == "summary"]
    assert summary["summary_of"] == alert_id("it-names", 2, "mastodon:1")
    assert summary["suppressed_post_ids"] == ["mastodon:2", "mastodon:3"]
