"""`postwatch correlate` on the real broker: the alerts of a network (a successor of a listed
account and a campaign of new accounts) give the same campaign and successor alerts as
`postwatch match` offline, one of each, updated and not repeated, also when the process is
killed with SIGKILL between them; a record that is no alert is dead-lettered. The thresholds
of packs, given as files or published, hold as offline. Its local data goes to its folder
(`POSTWATCH_CORRELATE_DIR`), never to the working directory."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from postwatch.kafka.deadletter import DeadLetter
from postwatch.settings import Settings
from tests.conftest import env_for, produce, read_topic, run_postwatch, stop_process
from tests.unit.rules.detectors.scenario import run_match
from tests.unit.rules.detectors.test_correlation import (
    OTHER_PACK,
    network,
    two_originals_re_posted_twice,
    with_correlation,
)

pytestmark = pytest.mark.timeout(480)

CORRELATED = ("campaign", "successor", "summary")


def start(settings: Settings, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """`postwatch correlate ARGS` logging to `correlate.log`, its data folder `state/`, in a
    working directory `work/` of its own."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "postwatch", "correlate", *args],
        env=env_for(settings, POSTWATCH_CORRELATE_DIR=str(tmp_path / "state")),
        cwd=work,
        stdout=(tmp_path / "correlate.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


def correlated(settings: Settings, expected: int, wait: float) -> list[dict[str, Any]]:
    """The correlation alerts on the alerts topic, read until `expected` distinct ids came."""
    deadline = time.monotonic() + wait
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        records = asyncio.run(
            read_topic(settings, settings.topic("alerts"), count=10**6, wait=3, settle=0)
        )
        found = [doc for r in records if (doc := _alert(r.value))["kind"] in CORRELATED]
        if len({doc["alert_id"] for doc in found}) >= expected:
            break
    return found


def _alert(value: bytes | None) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return {"kind": "not an alert"}
    return doc


def records(alerts: list[dict[str, Any]]) -> list[tuple[bytes | None, bytes]]:
    return [(a["alert_id"].encode(), orjson.dumps(a)) for a in alerts]


def test_a_network_gives_one_campaign_and_one_successor_across_a_kill(
    settings: Settings, tmp_path: Path
) -> None:
    offline = run_match(tmp_path, network())
    inputs = [a for a in offline if a["kind"] not in CORRELATED]
    expected = {(a["kind"], a["alert_id"]) for a in offline if a["kind"] in CORRELATED}
    assert sorted(kind for kind, _ in expected) == ["campaign", "successor", "summary"]
    successor_at = next(i for i, a in enumerate(inputs) if a["kind"] == "lookalike_account")
    log = tmp_path / "correlate.log"
    alerts = settings.topic("alerts")

    first = start(settings, tmp_path)
    try:
        asyncio.run(produce(settings, alerts, records(inputs[: successor_at + 1])))
        before = correlated(settings, 1, wait=120)
        assert {a["kind"] for a in before} == {"successor"}, log.read_text()
    finally:
        stop_process(first, signal.SIGKILL)
    tables = tmp_path / "state" / f"{settings.topic_prefix}-correlate" / "v1" / "tables"
    assert tables.is_dir()
    assert list((tmp_path / "work").iterdir()) == []

    second = start(settings, tmp_path)
    try:
        rest = [*records(inputs[successor_at + 1 :]), (b"x", b"no alert at all")]
        asyncio.run(produce(settings, alerts, rest))
        after = correlated(settings, len(expected), wait=200)  # a rebalance, a restore
        shown = [(a["kind"], a["post"]["id"], a.get("suppressed_post_ids")) for a in after]
        assert {(a["kind"], a["alert_id"]) for a in after} == expected, (shown, log.read_text())
        letters = asyncio.run(
            read_topic(settings, settings.topic("deadletter"), count=1, wait=30, settle=0)
        )
        found = {(d.reason, d.offset) for r in letters if (d := DeadLetter.decode(r.value or b""))}
        assert [reason for reason, _ in found] == ["not_alert"]  # once, or again after a rebalance
    finally:
        assert stop_process(second) == 0, log.read_text()


def test_the_thresholds_of_packs_in_files_and_published_hold(
    settings: Settings, tmp_path: Path
) -> None:
    other = OTHER_PACK.replace("rules:", "correlation: {campaign_authors: 2}\nrules:", 1)
    posts = two_originals_re_posted_twice()
    mirrors = with_correlation("{campaign_authors: 2}")
    offline = run_match(tmp_path, posts, [mirrors, other])
    inputs = [a for a in offline if a["kind"] not in CORRELATED]
    expected = {(a["kind"], a["alert_id"]) for a in offline if a["kind"] in CORRELATED}
    assert sorted(kind for kind, _ in expected) == ["campaign", "campaign"]
    # the mirror pack published (after a record that is none), the other one a file
    asyncio.run(produce(settings, settings.topic("rules"), [(b"mirrors", b"no pack at all")]))
    (tmp_path / "mirrors.yaml").write_text(mirrors)
    (tmp_path / "other.yaml").write_text(other)
    published = run_postwatch(settings, "rules", "publish", str(tmp_path / "mirrors.yaml"))
    assert published.returncode == 0, published.stderr
    log = tmp_path / "correlate.log"
    process = start(settings, tmp_path, "--rules", str(tmp_path / "other.yaml"))
    try:
        asyncio.run(produce(settings, settings.topic("alerts"), records(inputs)))
        found = correlated(settings, len(expected), wait=120)
        assert {(a["kind"], a["alert_id"]) for a in found} == expected, log.read_text()
        assert "pack.refused" in log.read_text()
    finally:
        assert stop_process(process) == 0, log.read_text()


def test_a_pack_file_with_problems_in_its_correlation_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(with_correlation("{campaign_authors: many}"))
    result = run_postwatch(settings, "correlate", "--rules", str(bad), timeout=60)
    assert result.returncode == 1
    assert "correlation: campaign_authors is a count" in result.stderr


def test_a_data_folder_that_cannot_be_made_is_refused(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    folder = tmp_path / "a-file" / "state"
    result = run_postwatch(settings, "correlate", timeout=60, POSTWATCH_CORRELATE_DIR=str(folder))
    assert result.returncode == 1
    assert f"POSTWATCH_CORRELATE_DIR={folder}: " in result.stderr
    assert "Not a directory" in result.stderr
    assert "Traceback" not in result.stderr
