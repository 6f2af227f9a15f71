"""The OCSF rendering, validated with py-ocsf-models (the OCSF 1.5.0 schema as models):
strict parsing of the JSON bytes, and nothing in the finding the schema does not define."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pydantic
import pytest
from py_ocsf_models.events.findings.detection_finding import (  # type: ignore[import-untyped]  # the package ships no py.typed
    DetectionFinding,
)

from postwatch.alerts.ocsf import detection_finding
from postwatch.bench.edits import EDITS
from postwatch.demo import DEMO_PACK, DEMO_POSTS
from postwatch.rules import Engine, load_packs, parse_post
from postwatch.rules.alerts import Alert, decode
from tests.conftest import SHARED_DATA
from tests.factories import sample_photo
from tests.unit.conftest import make_post, only_match
from tests.unit.rules.detectors.scenario import STATEMENT, image_hashes, post, run_match
from tests.unit.rules.detectors.test_correlation import network

T0 = datetime(2025, 7, 25, 10, 0, tzinfo=UTC)


def validate(finding: dict[str, Any]) -> None:
    """Valid OCSF Detection Finding, every attribute one the schema defines."""
    model = DetectionFinding.model_validate_json(orjson.dumps(finding), strict=True)
    assert model.model_dump(mode="json", exclude_unset=True) == finding


def demo_alerts() -> list[Alert]:
    engine = Engine(load_packs([DEMO_PACK]))
    with DEMO_POSTS.open("rb") as lines:
        return [Alert.of_match(m) for line in lines for m in engine.evaluate(parse_post(line))]


def test_every_demo_alert_and_its_summary_is_a_valid_detection_finding() -> None:
    alerts = demo_alerts()
    assert len(alerts) == 19  # "#ExampleFront" is the demo pack's "example front" too
    for alert in alerts:
        validate(detection_finding(alert))
        summary = alert.summary(
            suppressed_count=2,
            suppressed_post_ids=["x:1", "x:2"],
            window_start=T0,
            window_end=T0 + timedelta(minutes=5),
        )
        validate(detection_finding(summary))


def test_finding_maps_rule_post_severity_and_evidence(engine: Engine) -> None:
    alert = Alert.of_match(only_match(engine, make_post(id="mastodon:7")), detected_at=T0)
    finding = detection_finding(alert)
    assert finding["class_uid"] == 2004
    assert finding["type_uid"] == 200401
    assert (finding["severity_id"], finding["severity"]) == (4, "High")
    assert finding["time"] == int(T0.timestamp() * 1000)
    assert finding["metadata"]["uid"] == alert.alert_id
    assert finding["finding_info"]["analytic"]["uid"] == "ops-names"
    assert finding["finding_info"]["analytic"]["version"] == "4"
    assert finding["resources"][0]["uid"] == "mastodon:7"
    assert finding["evidences"][0]["data"]["matched"] == "Example Front"
    observed = {o["value"] for o in finding["observables"]}
    assert observed == {"mastodon:alice", "https://mastodon.example/@alice/1"}


def test_summary_finding_counts_the_repeats(engine: Engine) -> None:
    first = Alert.of_match(only_match(engine, make_post()), detected_at=T0)
    summary = first.summary(
        suppressed_count=4,
        suppressed_post_ids=["a:1", "a:2", "a:3", "a:4"],
        window_start=T0,
        window_end=T0 + timedelta(seconds=300),
    )
    finding = detection_finding(summary)
    assert finding["count"] == 5
    assert finding["end_time"] - finding["start_time"] == 300_000
    assert finding["metadata"]["correlation_uid"] == first.alert_id
    assert finding["unmapped"]["postwatch"]["suppressed_post_ids"] == ["a:1", "a:2", "a:3", "a:4"]


def test_the_validation_rejects_what_is_not_a_detection_finding(engine: Engine) -> None:
    finding = detection_finding(Alert.of_match(only_match(engine, make_post())))
    with pytest.raises(pydantic.ValidationError):
        validate({k: v for k, v in finding.items() if k != "finding_info"})
    with pytest.raises(pydantic.ValidationError):
        validate({**finding, "time": "yesterday"})
    with pytest.raises(AssertionError):  # an attribute OCSF does not define
        validate({**finding, "post": {"id": "x"}})


@pytest.mark.parametrize(
    "name",
    [
        "ocsf_examples_okta_detection_finding_v1.3.0.ocsf.json",
        "prowler_detection_finding_ocsf_1.3.0.extracted.json",
    ],
)
def test_the_validation_accepts_real_detection_findings(name: str) -> None:
    doc = json.loads((SHARED_DATA / "ocsf" / name).read_text())
    for finding in doc if isinstance(doc, list) else [doc]:
        DetectionFinding.model_validate_json(json.dumps(finding), strict=True)


def test_every_kind_of_the_detectors_is_a_valid_detection_finding(tmp_path: Path) -> None:
    """The alerts of a mirror network (reappearances, a look-alike, a successor, a campaign
    and its update) and of a photo found again by its local features."""
    photo = sample_photo("astronaut")
    reframed = EDITS["caption bar"](EDITS["crop 25 % left"](photo, photo), photo)
    posts = [
        *network(),
        post("img-1", "front", STATEMENT, minutes=90, image=image_hashes(photo)),
        post("img-2", "mirror", "look", minutes=91, image=image_hashes(reframed, "JPEG")),
    ]
    alerts = [decode(orjson.dumps(doc)) for doc in run_match(tmp_path, posts)]
    kinds = {alert.kind for alert in alerts}
    assert kinds >= {
        "rule",
        "reappearance",
        "lookalike_account",
        "successor",
        "campaign",
        "summary",
    }
    assert any(a.evidence[0].type == "local_features" for a in alerts)
    for alert in alerts:
        finding = detection_finding(alert)
        validate(finding)
        assert finding["finding_info"]["types"] == [alert.kind]
        assert finding["unmapped"]["postwatch"]["kind"] == alert.kind
