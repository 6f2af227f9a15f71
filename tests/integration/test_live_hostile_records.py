"""Records on the live topics that fail, whatever the reason, are refused one by one on the
real broker: the worker logs and counts each, keeps its rules and applies what comes after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from postwatch.rules.language.published import PublishedPack, content_hash
from postwatch.settings import Settings
from postwatch.streams.live import publish_pack
from tests.conftest import produce
from tests.integration.test_live_rules import (
    PACK,
    LivePack,
    partitions_with,
)


def published(version: int, text: str) -> bytes:
    record = PublishedPack("live", version, text, content_hash(text), datetime.now(UTC), "x")
    return record.encode()


def wait_for(log: Path, *words: str, wait: float = 60) -> str:
    deadline = time.monotonic() + wait
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if all(word in text for word in words):
            break
        time.sleep(0.5)
    return text


def test_failing_records_are_refused_and_a_pack_published_after_them_applies(
    settings: Settings, tmp_path: Path, start_worker: Callable[[Path], Any]
) -> None:
    live = LivePack(settings, tmp_path, start_worker)
    [worker], alerts, send, every = live.workers, live.alerts, live.send, live.every

    # a test post whose author is a number made the loader raise TypeError
    crashing = PACK.format(version=2, word="beta") + "      no_match: [{text: x, author: 5}]\n"
    bank_entry = {"pack": "live", "bank": "b", "algo": "md5", "hash": "0" * 32}
    learned = {  # a value that is no string made the learned bank raise AttributeError
        "kind": "text",
        "value": 5,
        "alert_id": "a",
        "post_id": "test:p",
        "author_id": "test:u",
        "learned_at": "2025-01-01T00:00:00+00:00",
    }
    asyncio.run(
        produce(
            settings,
            settings.topic("rules"),
            [(b"live", published(2, crashing)), (b"junk", b"\xff{"), (b"list", b"[1, 2]")],
        )
    )
    asyncio.run(
        produce(
            settings, settings.topic("banks"), [(b"\xff\xfe", orjson.dumps(bank_entry))]
        )  # key: no UTF-8
    )
    asyncio.run(
        produce(
            settings,
            settings.topic("learned"),
            [(b"text/x", b"[1]"), (b"text/y", orjson.dumps(learned))],
        )
    )
    log = tmp_path / "worker-0.log"
    text = wait_for(log, "pack.refused", "bank_entry.refused", "learned.refused")
    assert text.count("pack.refused") == 3
    assert "data.author must be object" in text  # the record's own reason
    assert worker.poll() is None

    good = PACK.format(version=3, word="gamma")
    asyncio.run(
        publish_pack(
            settings,
            PublishedPack("live", 3, good, content_hash(good), datetime.now(UTC), "x"),
        )
    )
    seen = asyncio.run(
        alerts.until(lambda a: partitions_with(a, 3, "c") == every, 60, send("c", "gamma"))
    )
    assert partitions_with(seen, 3, "c") == every
    assert not [a for a in seen if a["rule"]["version"] == 2]
    assert worker.poll() is None
