"""A worker on the real broker: exactly the expected alerts, bad records to dead letter."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson

from postwatch.rules import alert_id
from postwatch.settings import Settings
from tests.conftest import ROOT, produce, read_topic

PACK = ROOT / "tests" / "files" / "integration" / "pack.yaml"
SHA = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
# near misses of the rule phrases, never the phrases themselves
WORDS = [
    "the",
    "a",
    "river",
    "city",
    "frontier",
    "examples",
    "samples",
    "brigades",
    "bread",
    "morning",
    "news",
]


def make_posts(n: int, seed: int) -> tuple[list[dict[str, object]], set[str]]:
    """n posts of which a known subset matches; returns them with the expected alert ids."""
    rng = random.Random(seed)
    posts: list[dict[str, object]] = []
    expected: set[str] = set()
    for i in range(n):
        post: dict[str, object] = {
            "schema": "postwatch.post/1",
            "id": f"test:{i}",
            "source": "test",
            "author": {"id": f"test:user{i % 37}"},
            "created_at": "2025-07-25T10:00:00Z",
            "text": " ".join(rng.choice(WORDS) for _ in range(12)),
        }
        kind = i % 50
        if kind == 7:
            post["text"] = f"{post['text']} Sample  BRIGADE."
            expected.add(alert_id("it-names", 1, f"test:{i}"))
        elif kind == 19:
            post["media"] = [{"kind": "image", "sha256": SHA.upper()}]
            expected.add(alert_id("it-media", 1, f"test:{i}"))
        elif kind == 33:
            post["author"] = {"id": "test:listed"}
            post["text"] = "we are the Example Front"
            expected.add(alert_id("it-author", 1, f"test:{i}"))
            expected.add(alert_id("it-names", 1, f"test:{i}"))
        posts.append(post)
    return posts, expected


def test_worker_alerts_exactly_the_matching_posts_and_dead_letters_bad_records(
    settings: Settings, start_worker: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    posts, expected = make_posts(1000, seed=1)
    assert len(expected) == 80
    records: list[tuple[bytes | None, bytes]] = [
        (str(p["id"]).encode(), orjson.dumps(p)) for p in posts
    ]
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
