"""A worker on the real broker: exactly the expected alerts, bad records to dead letter."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson

from postwatch.rules import alert_id
from postwatch.settings import Settings
from tests.conftest import ROOT, produce, read_topic
from tests.factories import as_records, make_posts

PACK = ROOT / "tests" / "files" / "integration" / "pack.yaml"


def test_worker_alerts_exactly_the_matching_posts_and_dead_letters_bad_records(
    settings: Settings, start_worker: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    posts, expected = make_posts(1000, seed=1)
    assert len(expected) == 80
    records = as_records(posts)
    bad = {
        b"bad-1": b"this is not json",
        b"bad-2": b"\xff\xfe{not utf-8",
        b"bad-3": orjson.dumps({"schema": "postwatch.post/1", "id": "test:x", "text": "hi"}),
        b"bad-4": orjson.dumps({**posts[7], "created_at": "yesterday"}),
    }
    # the bad records go in early, so that good ones that match come after them
    for offset, (key, value) in enumerate(bad.items()):
        records.insert(offset * 3, (key, value))
    worker = start_worker(PACK)
    asyncio.run(produce(settings, settings.topic("posts"), records))

    alerts = asyncio.run(read_topic(settings, settings.topic("alerts"), count=80, wait=90))
    assert worker.poll() is None, "the worker stopped"
    ids = [r.key.decode() for r in alerts if r.key is not None]
    assert sorted(ids) == sorted(expected)
    for record in alerts:
        alert = json.loads(record.value or b"")
        assert alert["alert_id"] == (record.key or b"").decode()
        assert alert["post"]["id"].startswith("test:")

    letters = asyncio.run(read_topic(settings, settings.topic("deadletter"), count=4, wait=30))
    by_key = {r.key: json.loads(r.value or b"") for r in letters}
    assert set(by_key) == set(bad)
    assert {k: v["reason"] for k, v in by_key.items()} == {
        b"bad-1": "not_json",
        b"bad-2": "not_utf8",
        b"bad-3": "schema",
        b"bad-4": "schema",
    }
    for key, letter in by_key.items():
        assert base64.b64decode(letter["value_b64"]) == bad[key]
        assert letter["topic"] == settings.topic("posts")
        assert letter["error"]
        assert isinstance(letter["offset"], int)


def test_records_too_big_to_pass_on_whole_do_not_hold_up_their_partition(
    settings: Settings, start_worker: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    posts, expected = make_posts(40, seed=2)
    long_post = {**posts[0], "id": "test:long", "text": "the example front " * 50_000}
    huge = b"{" + b"x" * 1_000_000  # as big as the broker takes; base64 would not fit
    records = [(b"k", huge), (b"k", orjson.dumps(long_post)), *as_records(posts)]
    worker = start_worker(PACK)
    asyncio.run(produce(settings, settings.topic("posts"), records))

    alerts = asyncio.run(
        read_topic(settings, settings.topic("alerts"), count=len(expected) + 1, wait=90)
    )
    assert worker.poll() is None, "the worker stopped"
    assert {(r.key or b"").decode() for r in alerts} == expected | {
        alert_id("it-names", 1, "test:long")
    }
    [long_alert] = [
        alert
        for alert in (json.loads(r.value or b"") for r in alerts)
        if alert["post"]["id"] == "test:long"
    ]
    assert (len(long_alert["evidence"]), long_alert["evidence_total"]) == (100, 50_000)

    [letter] = asyncio.run(read_topic(settings, settings.topic("deadletter"), count=1, wait=30))
    found = json.loads(letter.value or b"")
    assert (found["reason"], found["value_bytes"], found["value_truncated"]) == (
        "not_json",
        len(huge),
        True,
    )
