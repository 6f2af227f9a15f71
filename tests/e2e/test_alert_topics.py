"""Both alert topics as a SOC tool reads them: `postwatch connect jsonl` → `postwatch worker`
with the OCSF topic on → kcat reads `<prefix>.alerts` and `<prefix>.alerts.ocsf`; every
Alert v1 record validates against the published schema and every OCSF record against the
OCSF Detection Finding schema (py-ocsf-models), one finding per alert, under the same key."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
from py_ocsf_models.events.findings.detection_finding import (  # type: ignore[import-untyped]  # the package ships no py.typed
    DetectionFinding,
)

from postwatch.demo import DEMO_PACK
from postwatch.schemas import schema_text
from postwatch.settings import Settings
from tests.conftest import stop_process
from tests.e2e.test_pipeline import expected_alert_ids, kcat_records, replay_demo_posts


def test_both_alert_topics_validate(
    settings: Settings, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    expected = expected_alert_ids()
    worker = start_worker(DEMO_PACK, ocsf_enabled="true", metrics_port="0")
    try:
        replay_demo_posts(settings)
        deadline = time.monotonic() + 90
        alerts: list[tuple[str, str]] = []
        findings: list[tuple[str, str]] = []
        while time.monotonic() < deadline and (
            len(alerts) < len(expected) or len(findings) < len(expected)
        ):
            time.sleep(1)
            alerts = kcat_records(settings, settings.topic("alerts"))
            findings = kcat_records(settings, settings.topic("alerts.ocsf"))
        assert worker.poll() is None, (tmp_path / "worker-0.log").read_text()
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
