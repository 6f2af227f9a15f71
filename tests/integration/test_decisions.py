"""Decisions on the real broker: `alerts decide` records a verdict with its user on the
decisions topic, and its effects follow on a running worker and after a restart (a false
positive hash stops matching, a cleared look-alike author and a retired learned fingerprint
raise nothing again; a confirmed successor is caught as the listed account); an escalated
alert is re-sent one severity higher by the forwarder; a decision on an alert that does not
exist is refused and writes nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from postwatch.rules.alerts import encode
from postwatch.settings import Settings
from tests.conftest import env_for, read_topic, stop_process
from tests.integration.alerts.conftest import HookServer, alerts_for, publish_alerts
from tests.integration.alerts.conftest import post as alert_post
from tests.integration.test_live_rules import Alerts, post, send_once
from tests.unit.rules.detectors.scenario import IMAGES, STATEMENT, image_pdq
from tests.unit.rules.test_decisions import successor_alert

PACK = """
pack: reviewed
version: 1
watchlists:
  listed:
    - {{id: "test:front", handle: "examplefront", display_name: "Example Front"}}
banks:
  known:
    pdq: ["{bank}"]
rules:
  - id: listed-account
    title: Posts of listed accounts
    severity: high
    learn: true
    match: {{watchlist: listed}}
  - id: known-media
    title: Known media
    severity: high
    match: {{hashes: {{bank: known}}}}
"""


def _flip(pdq: str, bits: int) -> str:
    return f"{int(pdq, 16) ^ (((1 << bits) - 1) << (256 - bits)):064x}"


def decide(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "postwatch", "alerts", "decide", *args],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def image(pdq: str) -> dict[str, Any]:
    return {"media": [{"kind": "image", "pdq": pdq, "pdq_quality": 100}]}


def ids(alerts: list[dict[str, Any]], kind: str) -> list[str]:
    return [a["post"]["id"] for a in alerts if a["kind"] == kind]


@pytest.mark.timeout(300)
def test_false_positives_take_effect_on_the_worker_and_after_its_restart(
    settings: Settings, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    bank = image_pdq(IMAGES / "b.jpg")
    wrong = _flip(bank, 20)  # within the bank's 31, and a reviewer says it is another image
    pack = tmp_path / "reviewed.yaml"
    pack.write_text(PACK.format(bank=bank))
    worker = start_worker(pack)
    alerts = Alerts(settings)
    first = [
        post("1", STATEMENT, "front", "examplefront"),
        post("2", STATEMENT, "mirror1"),
        post("3", "look at this", "m1", **image(wrong)),
        post("4", "hello there", "lookalike1", "example_front_official"),
    ]
    seen = asyncio.run(alerts.until(lambda a: len(a) >= 4, 90, send_once(settings, first)))
    assert sorted((a["post"]["id"], a["kind"]) for a in seen) == [
        ("test:1", "rule"),
        ("test:2", "reappearance"),
        ("test:3", "rule"),
        ("test:4", "lookalike_account"),
    ]
    wrong_ones = [a for a in seen if a["post"]["id"] in {"test:2", "test:3", "test:4"}]
    for alert in wrong_ones:
        result = decide(settings, alert["alert_id"], "false_positive", "--user", "ana")
        assert result.returncode == 0, result.stderr
        assert f"alert {alert['alert_id']}: false_positive by ana" in result.stdout
    records = asyncio.run(read_topic(settings, settings.topic("decisions"), count=3, wait=30))
    decisions = [json.loads(r.value or b"") for r in records]
    assert sorted(d["alert_id"] for d in decisions) == sorted(a["alert_id"] for a in wrong_ones)
    assert {(d["verdict"], d["user"]) for d in decisions} == {("false_positive", "ana")}

    # live: the same content again raises nothing; the bank's own image still does (sent
    # last on the same partition, so when its alert is in, the others were evaluated)
    again = [
        post("5", STATEMENT, "mirror2"),
        post("6", "look at this", "m2", **image(_flip(wrong, 4))),
        post("7", "look at this", "m3", **image(bank)),
    ]
    seen = asyncio.run(
        alerts.until(lambda a: "test:7" in ids(a, "rule"), 60, send_once(settings, again))
    )
    assert {"test:5", "test:6"}.isdisjoint(a["post"]["id"] for a in seen)

    # after a kill -9 and a restart the decisions hold: the look-alike pair is cleared
    # (in a fresh worker's memory it would alert again), the other look-alike still alerts
    stop_process(worker, signal.SIGKILL)
    start_worker(pack)
    after = [
        post("8", "hello again", "lookalike1", "example_front_official"),
        post("9", STATEMENT, "mirror3"),
        post("10", "look at this", "m4", **image(wrong)),
        post("11", "hello there", "lookalike2", "ex4mple_fr0nt"),
    ]
    seen = asyncio.run(
        alerts.until(
            lambda a: "test:11" in ids(a, "lookalike_account"), 90, send_once(settings, after)
        )
    )
    assert {"test:8", "test:9", "test:10"}.isdisjoint(a["post"]["id"] for a in seen)


@pytest.mark.timeout(180)
def test_an_escalated_alert_is_forwarded_one_severity_higher(
    settings: Settings, tmp_path: Path
) -> None:
    (alert,) = alerts_for(alert_post(1, "Join the Sample Brigade"))  # high
    publish_alerts(settings, [alert])
    with HookServer() as critical:
        forwarder = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "postwatch",
                "alerts",
                "forward",
                "--to",
                f"json:critical:{critical.url()}",
            ],
            env=env_for(settings),
            stdout=(tmp_path / "forward.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(6)  # the forwarder's group starts at the end: the alert is behind it
            result = decide(settings, alert["alert_id"], "escalate", "--note", "urgent")
            assert result.returncode == 0, result.stderr
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not critical.delivered():
                time.sleep(0.2)
            time.sleep(1)
        finally:
            stop_process(forwarder)
    [body] = critical.delivered()
    sent = json.loads(body)
    assert sent["rule"]["severity"] == "critical"
    assert sent["alert_id"] != alert["alert_id"]
    assert sent["post"] == alert["post"]


def test_a_decision_on_an_unknown_alert_is_refused_and_writes_nothing(
    settings: Settings,
) -> None:
    result = decide(settings, "0" * 32, "confirm")
    assert result.returncode == 1
    assert f"alert {'0' * 32} is not on {settings.topic('alerts')}" in result.stderr
    records = asyncio.run(read_topic(settings, settings.topic("decisions"), count=1, wait=3))
    assert records == []
    result = decide(settings, "0" * 32, "note")
    assert result.returncode == 2
    assert "a note needs --note TEXT" in result.stderr


@pytest.mark.timeout(240)
def test_a_confirmed_successor_is_caught_as_the_listed_account_by_a_running_worker(
    settings: Settings, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    pack = tmp_path / "reviewed.yaml"
    pack.write_text(PACK.format(bank="f" * 64))
    start_worker(pack)
    alerts = Alerts(settings)
    before = [post("1", "hello there", "heir"), post("2", "hello there", "front", "examplefront")]
    seen = asyncio.run(
        alerts.until(lambda a: "test:2" in ids(a, "rule"), 90, send_once(settings, before))
    )
    assert "test:1" not in ids(seen, "rule")
    successor = json.loads(encode(successor_alert("test:heir", "test:front")))
    publish_alerts(settings, [successor])
    result = decide(settings, successor["alert_id"], "confirm", "--user", "ana")
    assert result.returncode == 0, result.stderr
    seen = asyncio.run(
        alerts.until(
            lambda a: "test:3" in ids(a, "rule"),
            60,
            send_once(settings, [post("3", "hello again", "heir")]),
        )
    )
    [caught] = [a for a in seen if a["post"]["id"] == "test:3"]
    assert caught["rule"]["id"] == "listed-account"
    assert caught["evidence"][0] == {"type": "account", "field": "author.id", "value": "test:heir"}
