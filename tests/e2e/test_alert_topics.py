"""Both alert topics as a SOC tool reads them: `postwatch connect jsonl` → `postwatch worker`
with the OCSF topic on → kcat reads `<prefix>.alerts` and `<prefix>.alerts.ocsf`; every
Alert v1 record validates against the published schema and every OCSF record against the
OCSF Detection Finding schema (py-ocsf-models), one finding per alert, under the same key."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
from py_ocsf_models.events.findings.detection_finding import (  # type: ignore[import-untyped]  # the package ships no py.typed
    DetectionFinding,
)

from postwatch.demo import DEMO_PACK, DEMO_POSTS
from postwatch.rules import Alert, Engine, load_packs, parse_post
from postwatch.schemas import schema_text
from postwatch.settings import Settings
from tests.conftest import env_for, stop_process


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


def expected_alert_ids() -> set[str]:
    engine = Engine(load_packs([DEMO_PACK]))
    with DEMO_POSTS.open("rb") as lines:
        return {
            Alert.of_match(m).alert_id for line in lines for m in engine.evaluate(parse_post(line))
        }


def test_both_alert_topics_validate(settings: Settings, tmp_path: Path) -> None:
    expected = expected_alert_ids()
    worker = subprocess.Popen(
        [sys.executable, "-m", "postwatch", "worker", "--rules", str(DEMO_PACK)],
        env=env_for(settings, POSTWATCH_OCSF_ENABLED="true", POSTWATCH_METRICS_PORT="0"),
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        connector = subprocess.run(
            [sys.executable, "-m", "postwatch", "connect", "jsonl", "--input", str(DEMO_POSTS)],
            env=env_for(settings),
            capture_output=True,
            check=False,
            timeout=120,
        )
        assert connector.returncode == 0, connector.stderr.decode()
        deadline = time.monotonic() + 90
        alerts: list[tuple[str, str]] = []
        findings: list[tuple[str, str]] = []
        while time.monotonic() < deadline and (
            len(alerts) < len(expected) or len(findings) < len(expected)
        ):
            time.sleep(1)
            alerts = kcat_records(settings, settings.topic("alerts"))
            findings = kcat_records(settings, settings.topic("alerts.ocsf"))
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
    finally:
        stop_process(worker)

    schema = json.loads(schema_text("alert"))
    by_id = {}
    for key, value in alerts:
        alert = json.loads(value)
        jsonschema.validate(alert, schema)
        assert key == alert["alert_id"]
        by_id[key] = alert
    assert set(by_id) == expected
    finding_keys = set()
    for key, value in findings:
        finding = DetectionFinding.model_validate_json(value, strict=True)
        assert finding.class_uid == 2004
        assert json.loads(finding.model_dump_json(exclude_unset=True)) == json.loads(value)
        assert finding.metadata.uid == key
        assert finding.finding_info.analytic.uid == by_id[key]["rule"]["id"]
        finding_keys.add(key)
    assert finding_keys == set(by_id)
