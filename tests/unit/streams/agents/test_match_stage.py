"""The matching stage with its sinks: alerts, OCSF findings, dead letters, metrics, logs."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable
from typing import Any

import orjson
import pytest
import structlog
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import generate_latest

from postwatch.kafka.deadletter import VALUE_MAX
from postwatch.rules import Engine, Match, Post
from postwatch.rules.alerts import EVIDENCE_MAX
from postwatch.schemas import validator
from postwatch.streams.agents import match as match_stage
from postwatch.streams.agents.match import MatchStage
from postwatch.streams.metrics import Metrics
from tests.unit.streams.agents.helpers import Record, Sink, Windows

POST = {
    "schema": "postwatch.post/1",
    "id": "mastodon:secret-post-77",
    "source": "mastodon",
    "author": {"id": "mastodon:secret-author-42", "handle": "secret-handle"},
    "created_at": "2025-07-25T10:00:00Z",
    "observed_at": "2025-07-25T10:00:00Z",
    "text": "We stand with the Example Front, see https://example.org/x",
    "links": ["https://example.org/x"],
}


def post(n: int) -> bytes:
    """The same content by the same author, as post number n."""
    return orjson.dumps({**POST, "id": f"mastodon:secret-post-{n}"})


def stage(
    engine: Engine,
    metrics: Metrics | None = None,
    windows: Windows | None = None,
    window_s: float = 0.0,
) -> tuple[MatchStage, Sink, Sink, Sink]:
    alerts, ocsf, letters = Sink(), Sink(), Sink()
    built = MatchStage(
        engine,
        alerts,
        letters,
        metrics=metrics or Metrics(),
        send_ocsf=ocsf,
        windows=windows,
        window_s=window_s,
    )
    return built, alerts, ocsf, letters


def test_alerts_and_their_ocsf_findings_share_keys(engine: Engine) -> None:
    built, alerts, ocsf, letters = stage(engine)
    assert asyncio.run(built.process([Record(b"k", orjson.dumps(POST), "posts", 0, 5)])) == 2
    assert [v["rule"]["id"] for v in alerts.values] == ["ops-names", "ops-domain"]
    assert [k for k, _ in ocsf.records] == [k for k, _ in alerts.records]
    assert [f["class_uid"] for f in ocsf.values] == [2004, 2004]
    assert letters.records == []


def test_metrics_count_posts_alerts_dead_letters_and_never_label_post_data(
    engine: Engine,
) -> None:
    metrics = Metrics()
    built, _, _, letters = stage(engine, metrics=metrics, windows=Windows(), window_s=60.0)
    for offset in range(3):
        asyncio.run(built.process([Record(None, post(offset), "posts", 0, offset)]))
    asyncio.run(built.process([Record(None, b"not json", "posts", 0, 3)]))
    value = metrics.registry.get_sample_value
    assert value("postwatch_posts_processed_total") == 3
    labels = {"rule": "ops-names", "severity": "high", "kind": "rule"}
    assert value("postwatch_alerts_total", labels) == 1
    assert value("postwatch_alerts_suppressed_total", {"rule": "ops-names"}) == 2
    assert value("postwatch_deadletter_records_total", {"reason": "not_json"}) == 1
    assert value("postwatch_alert_latency_seconds_count") == 2
    assert value("postwatch_suppression_windows_open") == 2
    assert letters.values[0]["reason"] == "not_json"
    exposed = generate_latest(metrics.registry).decode()
    for secret in ("secret-post", "secret-author", "secret-handle", "Example Front"):
        assert secret not in exposed


@pytest.mark.parametrize(("level", "logged"), [(logging.DEBUG, True), (logging.INFO, False)])
def test_alerts_are_logged_at_debug_with_their_rule_and_post(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, level: int, logged: bool
) -> None:
    """At info, a rule that matches most posts must not flood the log: alerts are counted in
    metrics and logged at debug only."""
    capture = structlog.testing.LogCapture()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(),
        processors=[structlog.processors.add_log_level, capture],
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )
    monkeypatch.setattr(match_stage, "log", logger)
    built, _, _, _ = stage(engine)
    asyncio.run(built.process([Record(None, orjson.dumps(POST), "posts", 0, 0)]))
    alert_logs = [entry for entry in capture.entries if entry["event"] == "alert"]
    expected = {
        ("ops-names", "mastodon:secret-post-77", "debug"),
        ("ops-domain", "mastodon:secret-post-77", "debug"),
    }
    assert {(e["rule_id"], e["post_id"], e["log_level"]) for e in alert_logs} == (
        expected if logged else set()
    )


@pytest.mark.parametrize("window_s", [0.0, 60.0])
def test_without_a_window_every_match_is_an_alert(engine: Engine, window_s: float) -> None:
    windows = Windows() if window_s else None
    built, alerts, _, _ = stage(engine, windows=windows, window_s=window_s)
    for offset in range(3):
        asyncio.run(built.process([Record(None, post(offset), "posts", 0, offset)]))
    assert len(alerts.records) == (2 if window_s else 6)


def test_a_batch_is_processed_in_order_and_counted(engine: Engine) -> None:
    metrics = Metrics()
    built, alerts, _, letters = stage(engine, metrics=metrics)
    batch = [
        Record(None, post(0), "posts", 1, 10),
        Record(None, b"{", "posts", 1, 11),
        Record(None, post(2), "posts", 1, 12),
    ]
    assert asyncio.run(built.process(batch)) == 4
    assert [a["post"]["id"] for a in alerts.values] == [
        f"mastodon:secret-post-{n}" for n in (0, 0, 2, 2)
    ]
    assert [(d["partition"], d["offset"]) for d in letters.values] == [(1, 11)]
    assert metrics.registry.get_sample_value("postwatch_posts_processed_total") == 2


def test_a_failed_send_fails_the_batch(engine: Engine) -> None:
    class Refused(Sink):
        async def __call__(self, key: bytes | None, value: bytes) -> Awaitable[Any]:
            await super().__call__(key, value)
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(KafkaTimeoutError())
            return failed

    built = MatchStage(engine, Refused(), Sink())
    with pytest.raises(KafkaTimeoutError):
        asyncio.run(built.process([Record(None, post(0), "posts", 0, 0)]))


def test_a_post_the_engine_fails_on_is_dead_lettered_and_the_batch_goes_on(
    engine: Engine,
) -> None:
    class Faulty(Engine):
        """Fails on one post, as a defect in the engine would."""

        def evaluate(self, post: Post) -> list[Match]:
            if post.id.endswith("-1"):
                raise ValueError("defect")
            return super().evaluate(post)

    faulty = Faulty(engine.packs)
    built, alerts, _, letters = stage(faulty)
    batch = [Record(None, post(n), "posts", 0, n) for n in range(3)]
    assert asyncio.run(built.process(batch)) == 4
    assert {a["post"]["id"] for a in alerts.values} == {
        "mastodon:secret-post-0",
        "mastodon:secret-post-2",
    }
    [letter] = letters.values
    assert (letter["reason"], letter["offset"]) == ("evaluation_failed", 1)
    assert "defect" in letter["error"]


def test_dead_letters_and_alerts_stay_within_one_kafka_record(engine: Engine) -> None:
    built, alerts, _, letters = stage(engine)
    huge = b"{" + b"x" * (2 * VALUE_MAX)
    many = orjson.dumps({**POST, "text": "the Example Front " * 150})
    asyncio.run(
        built.process([Record(None, huge, "posts", 0, 0), Record(None, many, "posts", 0, 1)])
    )
    [letter] = letters.values
    assert base64.b64decode(letter["value_b64"]) == huge[:VALUE_MAX]
    assert (letter["value_bytes"], letter["value_truncated"]) == (len(huge), True)
    [alert] = [a for a in alerts.values if a["rule"]["id"] == "ops-names"]
    assert len(alert["evidence"]) == EVIDENCE_MAX
    assert alert["evidence_total"] == 150
    assert alert["evidence"][0]["span"] == [4, 17]  # the first ones are kept
    validator("alert")(alert)
