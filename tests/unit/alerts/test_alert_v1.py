"""Alert v1 as published: every field of the contract, summaries, and the schema that
consumers validate against (old alerts stay valid)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from postwatch.rules import Engine
from postwatch.rules.alerts import (
    EXCERPT_MAX,
    SUPPRESSED_IDS_MAX,
    alert_id,
    build_alert,
    build_summary,
    content_fingerprint,
)
from postwatch.schemas import schema_text
from tests.unit.conftest import make_post, only_match

SCHEMA = json.loads(schema_text("alert"))
T0 = datetime(2025, 7, 25, 10, 0, tzinfo=UTC)


def test_rule_alert_carries_rule_metadata_post_and_evidence(engine: Engine) -> None:
    post = make_post(id="mastodon:9", text="We stand with the Example Front today.")
    alert = build_alert(only_match(engine, post), detected_at=T0)
    jsonschema.validate(alert, SCHEMA)
    assert alert["alert_id"] == alert_id("ops-names", 4, "mastodon:9")
    assert alert["kind"] == "rule"
    assert alert["detected_at"] == "2025-07-25T10:00:00.000Z"
    assert alert["rule"] == {
        "id": "ops-names",
        "version": 4,
        "pack": "ops",
        "title": "Names of listed organisations",
        "severity": "high",
        "tags": ["names", "listed"],
    }
    assert alert["post"]["author"] == {"id": "mastodon:alice", "handle": "alice"}
    assert alert["post"]["url"] == "https://mastodon.example/@alice/1"
    [evidence] = alert["evidence"]
    start, end = evidence["span"]
    assert post.text[start:end] == "Example Front" == evidence["matched"]
    assert alert["shadow"] is False


def test_excerpt_is_bounded_and_keeps_the_evidence(engine: Engine) -> None:
    text = "filler words " * 200 + "the sample brigade marches" + " more filler" * 200
    alert = build_alert(only_match(engine, make_post(text=text)))
    excerpt = alert["post"]["excerpt"]
    assert len(excerpt) <= EXCERPT_MAX
    assert "sample brigade" in excerpt
    assert excerpt.startswith("…")
    assert excerpt.endswith("…")


def test_summary_counts_repeats_and_is_valid_alert_v1(engine: Engine) -> None:
    first = build_alert(only_match(engine, make_post(id="mastodon:1")), detected_at=T0)
    summary = build_summary(
        first,
        suppressed_count=3,
        suppressed_post_ids=["mastodon:2", "mastodon:3", "mastodon:4"],
        window_start=T0,
        window_end=T0 + timedelta(minutes=5),
        detected_at=T0 + timedelta(minutes=5, seconds=1),
    )
    jsonschema.validate(summary, SCHEMA)
    assert summary["kind"] == "summary"
    assert summary["summary_of"] == first["alert_id"]
    assert summary["suppressed_count"] == 3
    assert summary["suppressed_post_ids"] == ["mastodon:2", "mastodon:3", "mastodon:4"]
    assert summary["window"] == {
        "start": "2025-07-25T10:00:00.000Z",
        "end": "2025-07-25T10:05:00.000Z",
    }
    assert summary["post"] == first["post"]
    assert summary["evidence"] == first["evidence"]
    # deterministic, and never the id of the alert it summarises
    assert summary["alert_id"] == alert_id("ops-names", 4, "mastodon:1", "summary")
    assert summary["alert_id"] != first["alert_id"]


def test_summary_lists_a_bounded_number_of_ids_but_counts_all(engine: Engine) -> None:
    first = build_alert(only_match(engine, make_post()))
    ids = [f"mastodon:{i}" for i in range(SUPPRESSED_IDS_MAX + 50)]
    summary = build_summary(
        first,
        suppressed_count=len(ids),
        suppressed_post_ids=ids,
        window_start=T0,
        window_end=T0,
    )
    jsonschema.validate(summary, SCHEMA)
    assert summary["suppressed_count"] == SUPPRESSED_IDS_MAX + 50
    assert summary["suppressed_post_ids"] == ids[:SUPPRESSED_IDS_MAX]


def test_schema_requires_the_accounting_of_a_summary(engine: Engine) -> None:
    first = build_alert(only_match(engine, make_post()))
    summary = build_summary(
        first, suppressed_count=1, suppressed_post_ids=["x:1"], window_start=T0, window_end=T0
    )
    for field in ("suppressed_count", "suppressed_post_ids", "summary_of", "window"):
        broken = {k: v for k, v in summary.items() if k != field}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_alerts_written_before_summaries_existed_stay_valid() -> None:
    """Backward compatibility: an alert in the first published form still validates."""
    old = {
        "schema": "postwatch.alert/1",
        "alert_id": "0" * 32,
        "kind": "rule",
        "detected_at": "2025-07-25T10:00:01.250Z",
        "rule": {"id": "r", "version": 1, "pack": "p", "title": "t", "severity": "low", "tags": []},
        "post": {
            "id": "x:1",
            "source": "x",
            "url": None,
            "created_at": "2025-07-25T10:00:00Z",
            "author": {"id": "x:a", "handle": None},
            "excerpt": "text",
        },
        "evidence": [{"type": "keyword", "field": "text", "value": "text", "span": [0, 4]}],
        "shadow": False,
    }
    jsonschema.validate(old, SCHEMA)


def test_alert_id_of_rule_alerts_is_the_one_published_from_the_start() -> None:
    expected = hashlib.sha256(b"pw-0001\x1f3\x1fbluesky:1").hexdigest()[:32]
    assert alert_id("pw-0001", 3, "bluesky:1") == expected
    assert alert_id("pw-0001", 4, "bluesky:1") != expected


def test_fingerprint_ignores_case_and_spacing_but_not_words_or_media() -> None:
    a = make_post(text="Join  the Sample Brigade")
    assert content_fingerprint(a) == content_fingerprint(make_post(text="join the sample brigade "))
    assert content_fingerprint(a) != content_fingerprint(make_post(text="join a sample brigade"))
    with_media = make_post(text="Join the Sample Brigade", media=[{"sha256": "ab" * 32}])
    assert content_fingerprint(a) != content_fingerprint(with_media)
