"""Live rules and mirror detection on the real broker, with workers of one group.

A published pack changes what both workers match without a restart; a pack that fails on the
workers is refused and the last good one keeps working; learned fingerprints raise
reappearance alerts and survive a worker restart.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from PIL import Image

from postwatch.bench.edits import EDITS
from postwatch.media.hashing import HashOptions, MediaHashes, hash_bytes
from postwatch.rules.language.published import PublishedPack, content_hash
from postwatch.settings import Settings
from postwatch.streams.live import publish_pack
from tests.conftest import env_for, run_postwatch, stop_process
from tests.unit.rules.detectors.scenario import IMAGES, STATEMENT, image_hashes
from tests.unit.rules.detectors.scenario import PACK as MIRROR_PACK

PACK = """
pack: live
version: {version}
rules:
  - id: watch-word
    title: The word of the day
    severity: high
    match:
      keywords: ["{word}"]
    tests:
      match: [{{text: "today: {word}"}}]
"""


def publish(settings: Settings, pack: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_postwatch(settings, "rules", "publish", str(pack), timeout=60, **env)


def post(
    post_id: str, text: str, author: str = "someone", handle: str | None = None, **extra: Any
) -> bytes:
    return orjson.dumps(
        {
            "schema": "postwatch.post/1",
            "id": f"test:{post_id}",
            "source": "test",
            "author": {"id": f"test:{author}", "handle": handle or author},
            "created_at": datetime.now(UTC).isoformat(),
            "text": text,
            **extra,
        }
    )


class Alerts:
    """Follows the alerts topic from the beginning."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seen: list[dict[str, Any]] = []

    async def until(
        self, done: Callable[[list[dict[str, Any]]], bool], wait: float, send: Callable[[], Any]
    ) -> list[dict[str, Any]]:
        """Call `send` every half second until `done(alerts)` holds; the alerts so far,
        from the beginning of the topic."""
        self.seen = []
        consumer = AIOKafkaConsumer(
            self.settings.topic("alerts"),
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not done(self.seen):
                await send()
                batches = await consumer.getmany(timeout_ms=500)
                self.seen.extend(json.loads(r.value or b"") for b in batches.values() for r in b)
            for _ in range(3):  # whatever was on its way
                batches = await consumer.getmany(timeout_ms=300)
                self.seen.extend(json.loads(r.value or b"") for b in batches.values() for r in b)
            return self.seen
        finally:
            await consumer.stop()


async def send_posts(settings: Settings, records: Iterable[tuple[int, bytes]]) -> None:
    """Send (partition, post) records to the posts topic in order, each acknowledged before
    the next, keyed by author id as connectors key them (`alerts confirm` finds a post by
    it)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for partition, value in records:
            key = orjson.loads(value)["author"]["id"].encode()
            await producer.send_and_wait(
                settings.topic("posts"), value, key=key, partition=partition
            )
    finally:
        await producer.stop()


def send_once(settings: Settings, posts: list[bytes]) -> Callable[[], Any]:
    """A `send` for `Alerts.until` that sends these posts to partition 0 in order (so the
    worker sees them in that order) on its first call, and nothing after."""
    pending = list(posts)

    async def send() -> None:
        records = [(0, value) for value in pending]
        pending.clear()
        if records:
            await send_posts(settings, records)

    return send


async def send_to_every_partition(settings: Settings, tag: str, text: str) -> None:
    await send_posts(
        settings,
        [
            (partition, post(f"{tag}-p{partition}-{time.monotonic_ns()}", text))
            for partition in range(settings.posts_partitions)
        ],
    )


@pytest.fixture
def worker_on(
    tmp_path: Path, start_worker: Callable[[Path], subprocess.Popen[bytes]]
) -> Callable[[str, str], subprocess.Popen[bytes]]:
    """Start a worker on a pack written in the test: `worker_on(name, text)` writes it to
    `name.yaml` and starts the worker with it."""

    def start(name: str, text: str) -> subprocess.Popen[bytes]:
        pack = tmp_path / f"{name}.yaml"
        pack.write_text(text)
        return start_worker(pack)

    return start


def partitions_with(alerts: list[dict[str, Any]], version: int, tag: str) -> set[str]:
    """The partitions (from the post ids) that raised alerts of this rule version."""
    return {
        a["post"]["id"].split("-")[1]
        for a in alerts
        if a["rule"]["version"] == version and a["post"]["id"].startswith(f"test:{tag}-")
    }


class LivePack:
    """Workers started with the pack `live` v1 (the word alpha), once its alerts came from
    every partition; `send(tag, word)` sends posts of the word to every partition."""

    def __init__(
        self,
        settings: Settings,
        tmp_path: Path,
        start_worker: Callable[..., subprocess.Popen[bytes]],
        workers: int = 1,
        **env: str,
    ) -> None:
        self.settings = settings
        self.first = tmp_path / "v1.yaml"
        self.first.write_text(PACK.format(version=1, word="alpha"))
        self.workers = [start_worker(self.first, **env) for _ in range(workers)]
        self.every = {f"p{p}" for p in range(settings.posts_partitions)}
        self.alerts = Alerts(settings)
        seen = asyncio.run(
            self.alerts.until(
                lambda a: partitions_with(a, 1, "a") == self.every, 120, self.send("a", "alpha")
            )
        )
        assert partitions_with(seen, 1, "a") == self.every

    def send(self, tag: str, word: str) -> Callable[[], Any]:
        return lambda: send_to_every_partition(self.settings, tag, f"word {word}")


def test_published_packs_change_both_workers_and_a_broken_one_is_refused(
    settings: Settings, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    cache = str(tmp_path / "cache")  # the compiled packs the workers and the publisher share
    live = LivePack(settings, tmp_path, start_worker, workers=2, cache_dir=cache)
    workers, alerts, send, every = live.workers, live.alerts, live.send, live.every
    time.sleep(5)  # both workers have their partitions (the second joins a little later)

    second = tmp_path / "v2.yaml"
    second.write_text(PACK.format(version=2, word="beta"))
    published_at = time.monotonic()
    result = publish(
        settings,
        second,
        POSTWATCH_PUBLISHED_BY="ops-team",
        POSTWATCH_RULES=str(live.first),  # the workers' packs: publish compiles their engine
        POSTWATCH_CACHE_DIR=cache,
    )
    assert result.returncode == 0, result.stderr
    assert "published pack live v2" in result.stdout
    assert "new pack with 1 rules" in result.stdout  # nothing of it was published before
    assert "compiled the workers' engine into" in result.stdout
    seen = asyncio.run(
        alerts.until(lambda a: partitions_with(a, 2, "b") == every, 60, send("b", "beta"))
    )
    took = time.monotonic() - published_at
    assert partitions_with(seen, 2, "b") == every
    print(f"publish -> first alert of the new rule on every partition: {took:.2f} s")

    # a pack that fails on the workers (here: its own test fails) never replaces v2
    broken = PACK.format(version=3, word="gamma").replace('today: gamma"', 'today: nothing"')
    asyncio.run(
        publish_pack(
            settings,
            PublishedPack(
                "live", 3, broken, content_hash(broken), datetime.now(UTC), "someone", ()
            ),
        )
    )
    refused = tmp_path / "v3.yaml"
    refused.write_text(broken)
    assert publish(settings, refused).returncode != 0  # publish itself refuses it too
    seen = asyncio.run(
        alerts.until(lambda a: partitions_with(a, 2, "c") == every, 60, send("c", "beta gamma"))
    )
    assert partitions_with(seen, 2, "c") == every
    assert not [a for a in seen if a["rule"]["version"] == 3]
    assert all(w.poll() is None for w in workers)
    for w in workers:
        stop_process(w)
    logs = [(tmp_path / f"worker-{i}.log").read_text() for i in range(2)]
    assert all("pack.refused" in log for log in logs)
    for log in logs:  # v2 was taken from what publish compiled, not compiled again
        (applied,) = [e for e in events(log) if e.get("event") == "pack.applied"]
        assert (applied["version"], applied["from_cache"]) == (2, True)

    history = subprocess.run(
        [sys.executable, "-m", "postwatch", "rules", "history"],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert [line.split()[1:3] for line in history] == [["live", "v2"], ["live", "v3"]]
    assert "by ops-team" in history[0]
    assert content_hash(second.read_text())[:12] in history[0]


def events(log: str) -> list[dict[str, Any]]:
    """The JSON log lines of a worker's log."""
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def image_pdq(size: tuple[int, int] | None, fmt: str) -> str:
    with Image.open(IMAGES / "b.jpg") as image:
        picture = image.convert("RGB")
    if size is not None:
        picture = picture.resize(size)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    hashes = hash_bytes(buffer.getvalue(), HashOptions())
    assert hashes.pdq is not None
    return hashes.pdq


def test_reappearance_and_lookalikes_on_the_broker_and_learned_banks_survive_a_restart(
    settings: Settings, worker_on: Callable[[str, str], subprocess.Popen[bytes]]
) -> None:
    worker = worker_on("mirrors", MIRROR_PACK)
    alerts = Alerts(settings)
    copy = image_pdq((300, 220), "JPEG")
    with Image.open(IMAGES / "b.jpg") as opened:
        photo = opened.convert("RGB")
    original = image_hashes(photo)
    reframed = image_hashes(EDITS["caption bar"](EDITS["crop 25 % top"](photo, photo), photo))

    def media(pdq: str) -> list[dict[str, Any]]:
        return [{"kind": "image", "pdq": pdq, "pdq_quality": 100}]

    def image_of(hashes: MediaHashes) -> list[dict[str, Any]]:
        return [
            {
                "kind": "image",
                "pdq": hashes.pdq,
                "pdq_mirror": hashes.pdq_mirror,
                "features": hashes.features,
            }
        ]

    edited = STATEMENT.replace("next", "this").replace("flags", "banners") + " 🔥"
    first = [
        post("1", STATEMENT, "front", media=image_of(original)),
        post("2", edited, "new", handle="examp1e.front2", media=media(copy)),
        post("3", "Tomatoes want sun and water every day in July, and more.", "garden"),
    ]

    def kinds(seen: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(a["post"]["id"], a["kind"]) for a in seen]

    seen = asyncio.run(alerts.until(lambda a: len(a) >= 4, 120, send_once(settings, first)))
    assert sorted(kinds(seen)) == [
        ("test:1", "rule"),
        ("test:2", "lookalike_account"),
        ("test:2", "reappearance"),
        ("test:2", "reappearance"),
    ]
    for alert in seen:
        if alert["kind"] == "reappearance":
            [evidence] = alert["evidence"]
            assert evidence["original_post_id"] == "test:1"
            assert evidence["original_author_id"] == "test:front"
            assert evidence["relation"] == "mirror"

    stop_process(worker)
    worker_on("mirrors", MIRROR_PACK)
    later = [post("4", edited, "other"), post("5", "seen this?", "far", media=image_of(reframed))]
    seen = asyncio.run(alerts.until(lambda a: len(a) >= 6, 120, send_once(settings, later)))
    assert sorted(kinds(seen)[4:]) == [("test:4", "reappearance"), ("test:5", "reappearance")]
    by_post = {a["post"]["id"]: a["evidence"][0] for a in seen[4:]}
    assert by_post["test:4"]["original_post_id"] == "test:1"
    # the cropped and captioned photo, by the local features learned before the restart
    assert (by_post["test:5"]["type"], by_post["test:5"]["original_post_id"]) == (
        "local_features",
        "test:1",
    )


BANK_PACK = """
pack: banked
version: 1
banks:
  known: {pdq: []}
rules:
  - id: known-media
    title: Known media
    match:
      hashes: {bank: known}
"""


def test_bank_entries_are_added_and_removed_on_a_running_worker(
    settings: Settings, worker_on: Callable[[str, str], subprocess.Popen[bytes]]
) -> None:
    worker_on("banked", BANK_PACK)
    known, near = image_pdq(None, "PNG"), image_pdq((300, 220), "JPEG")
    alerts = Alerts(settings)

    def bank(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "postwatch", "rules", "bank", "banked", "known", *args],
            env=env_for(settings),
            capture_output=True,
            timeout=60,
            check=True,
        )

    def send(tag: str) -> Callable[[], Any]:
        """A new post of the near copy on each call."""
        media = [{"kind": "image", "pdq": near, "pdq_quality": 100}]
        return lambda: send_posts(
            settings, [(0, post(f"{tag}-{time.monotonic_ns()}", "look", media=media))]
        )

    def tagged(seen: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
        return [a for a in seen if a["post"]["id"].startswith(f"test:{tag}-")]

    bank(known)
    seen = asyncio.run(alerts.until(lambda a: bool(tagged(a, "added")), 90, send("added")))
    [first, *_] = tagged(seen, "added")
    assert first["evidence"][0]["value"] == known
    bank("--remove", known)
    time.sleep(3)  # the tombstone reaches the worker
    seen = asyncio.run(alerts.until(lambda a: False, 4, send("removed")))
    assert tagged(seen, "removed") == []


CONFIRM_PACK = """
pack: confirmable
version: 1
rules:
  - id: rally
    title: Rally calls
    severity: low
    match:
      keywords: ["rally"]
"""
CALL = (
    "Everyone to the rally at the old harbour on Sunday morning, bring your neighbours "
    "and meet at the fish market gate at nine."
)


def test_a_confirmed_alert_teaches_its_post_to_the_workers(
    settings: Settings, worker_on: Callable[[str, str], subprocess.Popen[bytes]]
) -> None:
    worker_on("confirmable", CONFIRM_PACK)
    alerts = Alerts(settings)

    seen = asyncio.run(
        alerts.until(lambda a: len(a) >= 1, 90, send_once(settings, [post("1", CALL, "caller")]))
    )
    [alert] = seen
    edited = CALL.replace("rally", "gathering").replace("Sunday", "Saturday")
    seen = asyncio.run(
        alerts.until(lambda a: len(a) >= 2, 8, send_once(settings, [post("2", edited, "echo")]))
    )
    assert [a["post"]["id"] for a in seen] == ["test:1"]  # no rule matches it, nothing learned
    result = subprocess.run(
        [sys.executable, "-m", "postwatch", "alerts", "confirm", alert["alert_id"]],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "learned text" in result.stdout
    seen = asyncio.run(
        alerts.until(lambda a: len(a) >= 2, 60, send_once(settings, [post("3", edited, "echo")]))
    )
    assert [(a["post"]["id"], a["kind"]) for a in seen] == [
        ("test:1", "rule"),
        ("test:3", "reappearance"),
    ]
    assert seen[1]["evidence"][0]["original_alert_id"] == alert["alert_id"]
