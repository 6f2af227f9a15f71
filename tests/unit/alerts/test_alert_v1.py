"""Alert v1 as published: every field of the contract, summaries, the schema that consumers
validate against (old alerts stay valid) and the struct that builds and reads alerts, which
must agree with the schema."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import msgspec
import orjson
import pytest

from postwatch.rules import Engine
from postwatch.rules.alerts import (
    ALERT_KINDS,
    EXCERPT_MAX,
    SUPPRESSED_IDS_MAX,
    Alert,
    AlertAuthor,
    AlertPost,
    AlertRule,
    AlertWindow,
    alert_id,
    content_fingerprint,
    decode,
    encode,
)
from postwatch.rules.language.model import Evidence, Severity
from postwatch.schemas import schema_text
from tests.unit.conftest import alert_doc, make_post, only_match, summary_doc

SCHEMA = json.loads(schema_text("alert"))
T0 = datetime(2025, 7, 25, 10, 0, tzinfo=UTC)


def doc(alert: Alert) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(encode(alert))
    return out


def test_rule_alert_carries_rule_metadata_post_and_evidence(engine: Engine) -> None:
    post = make_post(id="mastodon:9", text="We stand with the Example Front today.")
    alert = alert_doc(only_match(engine, post), detected_at=T0)
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
    alert = alert_doc(only_match(engine, make_post(text=text)))
    excerpt = alert["post"]["excerpt"]
    assert len(excerpt) <= EXCERPT_MAX
    assert "sample brigade" in excerpt
    assert excerpt.startswith("…")
    assert excerpt.endswith("…")


def test_summary_counts_repeats_and_is_valid_alert_v1(engine: Engine) -> None:
    first = alert_doc(only_match(engine, make_post(id="mastodon:1")), detected_at=T0)
    summary = summary_doc(
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
    first = alert_doc(only_match(engine, make_post()))
    ids = [f"mastodon:{i}" for i in range(SUPPRESSED_IDS_MAX + 50)]
    summary = summary_doc(
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
    first = alert_doc(only_match(engine, make_post()))
    summary = summary_doc(
        first, suppressed_count=1, suppressed_post_ids=["x:1"], window_start=T0, window_end=T0
    )
    for field in ("suppressed_count", "suppressed_post_ids", "summary_of", "window"):
        broken = {k: v for k, v in summary.items() if k != field}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_alerts_written_before_summaries_existed_stay_valid() -> None:
    """Backward compatibility: an alert in the first published form still validates."""
    old = build_alert_doc()
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


# the struct and the schema describe the same document
STRUCTS: dict[str, tuple[type[msgspec.Struct], dict[str, Any]]] = {
    "alert": (Alert, SCHEMA),
    "rule": (AlertRule, SCHEMA["properties"]["rule"]),
    "post": (AlertPost, SCHEMA["properties"]["post"]),
    "author": (AlertAuthor, SCHEMA["properties"]["post"]["properties"]["author"]),
    "evidence": (Evidence, SCHEMA["properties"]["evidence"]["items"]),
    "window": (AlertWindow, SCHEMA["properties"]["window"]),
}


@pytest.mark.parametrize("name", STRUCTS)
def test_the_struct_has_the_fields_of_the_schema_and_requires_what_it_requires(
    name: str,
) -> None:
    struct, schema = STRUCTS[name]
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    fields = {f.encode_name for f in info.fields}
    required = {f.encode_name for f in info.fields if f.required}
    if info.tag_field is not None:  # the tag is encoded always, and is required
        fields.add(info.tag_field)
        required.add(info.tag_field)
    assert fields == set(schema["properties"])
    assert required == set(schema["required"])


def test_kinds_and_severities_are_those_of_the_schema() -> None:
    properties = SCHEMA["properties"]
    assert set(ALERT_KINDS) == set(properties["kind"]["enum"])
    assert {s.label for s in Severity} == set(properties["rule"]["properties"]["severity"]["enum"])
    assert Alert.__struct_config__.tag == properties["schema"]["const"]


def test_an_alert_decodes_to_the_struct_and_encodes_to_the_same_bytes(engine: Engine) -> None:
    first = Alert.of_match(only_match(engine, make_post()), detected_at=T0)
    summary = first.summary(
        suppressed_count=2, suppressed_post_ids=["x:2", "x:3"], window_start=T0, window_end=T0
    )
    for alert in (first, summary):
        assert decode(encode(alert)) == alert
        assert encode(decode(encode(alert))) == encode(alert)


def test_what_is_no_alert_v1_does_not_decode() -> None:
    good = build_alert_doc()
    for broken in (
        {**good, "alert_id": "not hex"},
        {**good, "kind": "other"},
        {**good, "schema": "postwatch.alert/2"},
        {**good, "evidence": []},
        {k: v for k, v in good.items() if k != "post"},
    ):
        with pytest.raises(msgspec.ValidationError):
            decode(orjson.dumps(broken))
    with pytest.raises(msgspec.DecodeError):
        decode(b"{not json")


def test_an_alert_of_the_first_published_form_decodes() -> None:
    alert = decode(orjson.dumps(build_alert_doc()))
    assert alert.post.author.handle is None
    assert alert.evidence[0].span == (0, 4)


def build_alert_doc() -> dict[str, Any]:
    return {
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
