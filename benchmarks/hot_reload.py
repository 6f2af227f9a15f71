"""Hot reload of a large pack set: from `postwatch rules publish` of a changed pack to the
new rule's first alert on every worker.

    bash deploy/kafka/kafka.sh start
    python benchmarks/hot_reload.py [--phrases 100000] [--workers 2]

Writes PHRASES keyword phrases over packs of 20,000 (a pack holds at most 500,000
characters), and a second version of the first pack with one rule more, whose phrase only
the probe posts hold. The workers run on the first versions (POSTWATCH_RULES) and share a
cache folder with the publisher; their packs are compiled into it before they start (what
an earlier start or `rules publish` leaves there). Once every worker has raised an alert of
the first versions, this is timed:

1. `postwatch rules publish` of the new version, with the workers' POSTWATCH_RULES: it
   checks and tests the pack, compiles it and the workers' engine into the shared folder,
   and puts it on the rules topic;
2. from the moment its record is on the rules topic to the new rule's first alert on every
   partition of the posts topic (a probe post goes to every partition every 0.2 s from the
   start of 1): every worker has applied the new version.

Prints how long 1 and 2 took; the cold compile of the whole set (what a worker
without the cache would spend) is timed first, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import orjson

from postwatch.kafka.clients import new_consumer, new_producer
from postwatch.kafka.topics import ALERTS, POSTS, RULES, ensure_topics
from postwatch.rules.alerts import decode
from postwatch.settings import Settings

PER_PACK = 20_000
PROBE = "zqxv reload probe"
SYLLABLES = ["ka", "ri", "mo", "ten", "sa", "lu", "vor", "nek", "dra", "pi", "zor", "an", "bel"]


def phrases(count: int) -> list[str]:
    rng = random.Random(11)  # noqa: S311 - a synthetic workload, not a secret
    found: set[str] = set()
    while len(found) < count:
        words = rng.randint(1, 3)
        found.add(
            " ".join("".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))) for _ in range(words))
        )
    return sorted(found)


def pack_text(pack_id: str, version: int, terms: list[str], probe: bool) -> str:
    lines = [f"pack: {pack_id}", f"version: {version}", "rules:"]
    for k in range(0, len(terms), 100):
        chunk = ", ".join(orjson.dumps(t).decode() for t in terms[k : k + 100])
        lines += [f"  - id: {pack_id}-{k // 100:03d}", "    title: phrases"]
        lines += [f"    match: {{keywords: [{chunk}]}}"]
    if probe:
        lines += [
            "  - id: reload-probe",
            "    title: the new rule",
            f"    match: {{keywords: [{PROBE!r}]}}",
        ]
    return "\n".join(lines) + "\n"


def command(env: dict[str, str], *args: str) -> float:
    """Run a postwatch command; seconds it took."""
    started = time.monotonic()
    subprocess.run(  # noqa: S603 - the project's own command
        [sys.executable, "-m", "postwatch", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.monotonic() - started


async def probe(
    settings: Settings, text: str, rule: str | None, seconds: float, done: asyncio.Event | None
) -> dict[int, float]:
    """Send a post holding `text` to every partition every 0.2 s until each partition's post
    has raised an alert (of `rule`, or any) and `done` is set; when (epoch seconds) each
    partition's first such alert was produced."""
    partitions = settings.posts_partitions
    alerts = new_consumer(settings, settings.topic(ALERTS), auto_offset_reset="latest")
    producer = new_producer(settings)
    await alerts.start()
    await producer.start()
    await alerts.seek_to_end()
    first: dict[int, float] = {}
    started = time.monotonic()

    async def collect() -> None:
        async for record in alerts:
            alert = decode(record.value)
            if rule is None or alert.rule.id == rule:
                _, partition, _ = alert.post.id.split(":")
                first.setdefault(int(partition), record.timestamp / 1000)

    collector = asyncio.create_task(collect())
    try:
        sent = 0
        while len(first) < partitions or (done is not None and not done.is_set()):
            if time.monotonic() - started > seconds:
                missing = set(range(partitions)) - set(first)
                raise SystemExit(f"no alert from partitions {missing} in {seconds} s")
            for partition in set(range(partitions)) - set(first):
                post = {
                    "schema": "postwatch.post/1",
                    "id": f"probe:{partition}:{sent}-{uuid.uuid4().hex[:6]}",
                    "source": "probe",
                    "created_at": "2025-07-25T10:00:00Z",
                    "author": {"id": f"probe:{partition}"},
                    "text": f"a post that holds {text}",
                }
                await producer.send(settings.topic(POSTS), orjson.dumps(post), partition=partition)
            sent += 1
            await producer.flush()
            await asyncio.sleep(0.2)
        return first
    finally:
        collector.cancel()
        await producer.stop()
        await alerts.stop()


async def publish_while_probing(
    settings: Settings, env: dict[str, str], changed: Path
) -> tuple[float, float, float]:
    """Run `rules publish` while probing for the new rule; (seconds publish took, when the
    record reached the rules topic and when the last partition's first alert of the new
    rule was produced, epoch seconds)."""
    done = asyncio.Event()
    prober = asyncio.create_task(probe(settings, PROBE, "reload-probe", 900, done))
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "postwatch", "rules", "publish", str(changed), env=env
    )
    if await process.wait() != 0:
        raise SystemExit("rules publish failed")
    publish = time.monotonic() - started
    done.set()
    first = await prober
    rules = new_consumer(settings, settings.topic(RULES), auto_offset_reset="earliest")
    await rules.start()
    try:
        batches = await rules.getmany(timeout_ms=5000)
        record = max((r for part in batches.values() for r in part), key=lambda r: r.offset)
    finally:
        await rules.stop()
    return publish, record.timestamp / 1000, max(first.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phrases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.from_env()
    settings = replace(settings, topic_prefix=f"reload-{uuid.uuid4().hex[:8]}")
    terms = phrases(args.phrases)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        packs = []
        for number, start in enumerate(range(0, len(terms), PER_PACK)):
            path = folder / f"pack-{number}.yaml"
            path.write_text(pack_text(f"p{number}", 1, terms[start : start + PER_PACK], False))
            packs.append(path)
        changed = folder / "pack-0-v2.yaml"
        changed.write_text(pack_text("p0", 2, terms[:PER_PACK], True))
        env = {
            **os.environ,
            "POSTWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "POSTWATCH_TOPIC_PREFIX": settings.topic_prefix,
            "POSTWATCH_RULES": ":".join(map(str, packs)),
            "POSTWATCH_CACHE_DIR": str(folder / "cache"),
            "POSTWATCH_METRICS_PORT": "0",
            "POSTWATCH_LOG_LEVEL": "warning",
        }
        rules = [arg for path in packs for arg in ("--rules", str(path))]
        print(f"{len(terms):,} phrases in {len(packs)} packs, {args.workers} workers")
        cold = command(env, "match", *rules, "--input", os.devnull, "--output", os.devnull)
        print(f"  compiling them cold (postwatch match, start-up included): {cold:.1f} s")
        asyncio.run(ensure_topics(settings, live=True))
        workers = [
            subprocess.Popen([sys.executable, "-m", "postwatch", "worker"], env=env)
            for _ in range(args.workers)
        ]
        try:
            started = time.time()
            ready = max(asyncio.run(probe(settings, terms[0], None, 600, None)).values())
            print(f"  workers started from the cache and alerting: {ready - started:.1f} s")
            publish, recorded, alerted = asyncio.run(publish_while_probing(settings, env, changed))
            print(f"  1. rules publish of the changed pack: {publish:.1f} s")
            print(
                f"  2. from its record on the rules topic to the new rule's alert on every "
                f"partition: {alerted - recorded:.1f} s"
            )
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(60)


if __name__ == "__main__":
    main()
