"""Worker memory under a million hostile records: does RSS stay flat while bad input flows?

    python benchmarks/worker_memory.py [--records 1000000] [--bootstrap 127.0.0.1:9092]
                                       [--big-max 1000000] [--skip KIND ...]

Starts a real `postwatch worker` (demo pack, its own topic prefix) and waits until it has
raised the alert of a warm-up post. Then produces `--records` records to the posts topic, a
seeded mix of invalid JSON (truncated, NaN, lone surrogate escapes, empty and null values),
invalid UTF-8, wrong types, nesting past what parses and nesting that parses, strings up to
`--big-max` bytes (valid posts with a huge text and invalid ones with a huge string in the
wrong field) and valid posts, some of which match the demo rules. Samples the worker's RSS
(/proc/PID/status VmRSS) before, during and after, waits until the worker group's committed
offsets reach the end of the posts topic, and prints records, seconds, records/s, RSS
before/peak/after and the dead letters counted (end offsets of the dead-letter topic) next
to the number of bad records produced. The topics are deleted at the end.

The kinds and their shares are in `KINDS`; `--skip KIND` leaves one out, so that the rest
can be measured when the worker does not survive that one. A worker that exits or stops
committing for a minute ends the run with the tail of its log.
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
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from postwatch.kafka.clients import send_all
from postwatch.kafka.topics import ensure_topics
from postwatch.settings import Settings

PACK = Path(__file__).parents[1] / "postwatch" / "data" / "demo" / "pack.yaml"
SAMPLE_EVERY_S = 0.25
PROGRESS_EVERY_S = 10.0
STALL_S = 60.0
"""The run fails when the committed offsets do not move for this long."""

Record = tuple[bytes | None, bytes | None, bool]
"""(key, value, bad): one record to produce, and whether the worker must dead-letter it."""


def post(i: int, **fields: object) -> dict[str, object]:
    """A valid Post v1 numbered `i`, with `fields` set (valid or not)."""
    return {
        "schema": "postwatch.post/1",
        "id": f"bench:{i}",
        "source": "bench",
        "author": {"id": f"bench:author{i % 997}", "handle": f"author{i % 997}"},
        "created_at": "2025-07-25T10:00:00Z",
        "text": "",
        **fields,
    }


TEXTS = [
    "an ordinary post about the weather and the match tonight",
    "we stand with the Example Front, join us",  # matches demo-0001 and demo-0002
    "the café on the corner is open again 🎉",
    "نص عربي قصير للاختبار",
    "links to https://news.example/story and #hashtag",
]
WRONG: list[dict[str, object]] = [
    {"id": 7},
    {"id": None},
    {"source": ["bench"]},
    {"author": "bench:someone"},
    {"author": {"id": 12}},
    {"created_at": 1753437600},
    {"created_at": "2025-13-45T10:00:00Z"},
    {"text": None},
    {"text": {"nested": "x"}},
    {"links": [1, 2]},
    {"media": [{"pdq_quality": 101}]},
    {"schema": "postwatch.post/2"},
]
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xfe\xfe"]


def bad_key(i: int) -> bytes:
    """Bad records are keyed too: a record with neither key nor value cannot be produced."""
    return f"hostile:{i % 97}".encode()


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = [value]
    return value


KINDS = {
    "valid": 0.40,
    "not_json": 0.12,
    "not_utf8": 0.05,
    "not_utf8_in_string": 0.05,
    "wrong_types": 0.15,
    "too_deep": 0.04,
    "too_deep_unknown_field": 0.04,
    "deep_valid": 0.14,
    # rare: the engine takes a second or two over a megabyte of text
    "big_valid": 0.0001,
    "big_matching": 0.00005,
    "big_invalid": 0.0001,
}
"""Each kind of record and its share of the mix."""


@dataclass
class Mix:
    """The seeded stream of hostile records of `kinds`; `made` counts each kind made."""

    kinds: dict[str, float]
    big_max: int
    seed: int
    made: Counter[str] = field(default_factory=Counter)

    def records(self, count: int) -> Iterator[Record]:
        rng = random.Random(self.seed)  # noqa: S311 - the same mix on every run, on purpose
        makers: dict[str, Callable[[int, random.Random], Record]] = {
            "valid": self.valid,
            "not_json": self.not_json,
            "not_utf8": self.not_utf8,
            "not_utf8_in_string": self.not_utf8_in_string,
            "wrong_types": self.wrong_types,
            "too_deep": self.too_deep,
            "too_deep_unknown_field": self.too_deep_unknown_field,
            "deep_valid": self.deep_valid,
            "big_valid": self.big_valid,
            "big_matching": self.big_matching,
            "big_invalid": self.big_invalid,
        }
        names = list(self.kinds)
        for i, name in enumerate(rng.choices(names, list(self.kinds.values()), k=count)):
            self.made[name] += 1
            yield makers[name](i, rng)

    def valid(self, i: int, rng: random.Random) -> Record:
        doc = post(i, text=rng.choice(TEXTS))
        return f"bench:author{i % 997}".encode(), orjson.dumps(doc), False

    def not_json(self, i: int, rng: random.Random) -> Record:
        whole = orjson.dumps(post(i, text="cut short"))
        value = rng.choice(
            [
                whole[: rng.randrange(1, len(whole))],
                b'{"score": NaN, ' + whole[1:],
                b'{"x": Infinity, ' + whole[1:],
                whole.replace(b"cut short", b"\\ud800 lone"),
                b"",
                None,  # a tombstone on the posts topic
                b"<html>not json</html>",
            ]
        )
        return bad_key(i), value, True

    def not_utf8(self, i: int, rng: random.Random) -> Record:
        """Invalid UTF-8 outside strings: before the document or between its tokens."""
        whole = orjson.dumps(post(i, text="broken bytes"))
        bad = rng.choice(BAD_UTF8)
        return bad_key(i), rng.choice([bad + whole, whole.replace(b",", b"," + bad, 1)]), True

    def not_utf8_in_string(self, i: int, rng: random.Random) -> Record:
        whole = orjson.dumps(post(i, text="broken bytes"))
        return bad_key(i), whole.replace(b"broken", rng.choice(BAD_UTF8)), True

    def wrong_types(self, i: int, rng: random.Random) -> Record:
        return bad_key(i), orjson.dumps(post(i, **{"text": "wrong", **rng.choice(WRONG)})), True

    def too_deep(self, i: int, rng: random.Random) -> Record:
        """Nested past what parses, in the text (a field Post v1 knows)."""
        whole = orjson.dumps(post(i, text="deep"))
        depth = rng.randrange(1025, 20_000)
        return bad_key(i), whole.replace(b'"deep"', b"[" * depth + b"]" * depth), True

    def too_deep_unknown_field(self, i: int, rng: random.Random) -> Record:
        """Nested past what parses, in a field Post v1 does not know."""
        whole = orjson.dumps(post(i, text="deep"))
        depth = rng.randrange(1025, 20_000)
        return bad_key(i), b'{"x": ' + b"[" * depth + b"]" * depth + b", " + whole[1:], True

    def deep_valid(self, i: int, rng: random.Random) -> Record:
        doc = post(i, text="deep but valid", extra=nested(rng.randrange(10, 250)))
        return f"bench:author{i % 997}".encode(), orjson.dumps(doc), False

    def big_valid(self, i: int, rng: random.Random) -> Record:
        """A valid post whose text takes the record up to `big_max` bytes."""
        text = self._filler(rng, rng.choice(["x", "é", "日本", "😀", "a few words "]))
        return b"bench:big", orjson.dumps(post(i, text=text)), False

    def big_matching(self, i: int, rng: random.Random) -> Record:
        """A valid post up to `big_max` bytes that names a listed organisation all along."""
        text = self._filler(rng, "example front ")
        return b"bench:big", orjson.dumps(post(i, text=text)), False

    def big_invalid(self, i: int, rng: random.Random) -> Record:
        """A string of up to `big_max` bytes where Post v1 wants a list."""
        links = self._filler(rng, rng.choice(["x", "é"]))
        return bad_key(i), orjson.dumps(post(i, text="big", links=links)), True

    def _filler(self, rng: random.Random, piece: str) -> str:
        size = rng.randrange(10_000, self.big_max - 500)
        return (piece * (size // len(piece.encode()) + 1)).encode()[:size].decode(errors="ignore")


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} for process {pid}")


class Sampler(threading.Thread):
    """Samples a process's RSS until stopped; `peak` is the largest sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.latest = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(SAMPLE_EVERY_S):
            try:
                self.latest = rss_kib(self.pid)
            except (OSError, RuntimeError):
                return  # the process ended; the caller notices
            self.peak = max(self.peak, self.latest)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


@contextmanager
def worker(settings: Settings, log_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "POSTWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "POSTWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "POSTWATCH_RULES": str(PACK),
        "POSTWATCH_METRICS_PORT": "0",
    }
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "postwatch", "worker"], env=env, stdout=log, stderr=log
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BenchError(Exception):
    """The measurement could not be taken; the message says why."""


def log_tail(log_file: Path) -> str:
    return log_file.read_text(errors="replace")[-3000:]


def alive(process: subprocess.Popen[bytes], logs: Path) -> None:
    if process.poll() is not None:
        raise BenchError(f"the worker exited with {process.returncode}:\n{log_tail(logs)}")


async def warm_up(settings: Settings, process: subprocess.Popen[bytes], logs: Path) -> None:
    """Produce one matching post and wait for its alert: the worker is in its group, with
    its rules loaded."""
    alerts = AIOKafkaConsumer(
        settings.topic("alerts"), auto_offset_reset="earliest", **settings.kafka_client_options()
    )
    producer = AIOKafkaProducer(**settings.kafka_client_options())
    await alerts.start()
    await producer.start()
    try:
        warm = post(-1, text="we stand with the Example Front")
        await producer.send_and_wait(settings.topic("posts"), orjson.dumps(warm), key=b"warm")
        deadline = time.monotonic() + 300
        while not await alerts.getmany(timeout_ms=500):
            alive(process, logs)
            if time.monotonic() > deadline:
                raise BenchError("no alert for the warm-up post in 300 s")
    finally:
        await producer.stop()
        await alerts.stop()


async def produce(settings: Settings, records: Iterator[Record]) -> int:
    producer = AIOKafkaProducer(
        acks="all",
        linger_ms=20,
        max_batch_size=262_144,
        max_request_size=1_048_576,
        **settings.kafka_client_options(),
    )
    await producer.start()
    bad = 0

    def counted() -> Iterator[tuple[bytes | None, bytes | None]]:
        nonlocal bad
        for key, value, is_bad in records:
            bad += is_bad
            yield key, value

    try:
        await send_all(producer, settings.topic("posts"), counted(), in_flight=5_000)
    finally:
        await producer.stop()
    return bad


async def ends(settings: Settings, topic: str, partitions: int) -> int:
    """The number of records ever produced to `topic` (the sum of its end offsets)."""
    consumer = AIOKafkaConsumer(**settings.kafka_client_options())
    await consumer.start()
    try:
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        return sum((await consumer.end_offsets(wanted)).values())
    finally:
        await consumer.stop()


async def committed(admin: AIOKafkaAdminClient, settings: Settings) -> int:
    offsets = await admin.list_consumer_group_offsets(settings.group)
    posts = settings.topic("posts")
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == posts and meta.offset > 0)


async def until_committed(
    settings: Settings,
    total: int,
    *,
    process: subprocess.Popen[bytes],
    sampler: Sampler,
    logs: Path,
    started: float,
) -> None:
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        last, moved = -1, time.monotonic()
        next_report = time.monotonic() + PROGRESS_EVERY_S
        while True:
            alive(process, logs)
            done = await committed(admin, settings)
            now = time.monotonic()
            if done != last:
                last, moved = done, now
            if done >= total:
                return
            if now - moved > STALL_S:
                raise BenchError(
                    f"committed offsets stuck at {done:,} of {total:,}:\n{log_tail(logs)}"
                )
            if now >= next_report:
                print(
                    f"  {now - started:6.0f} s  committed {done:>10,} of {total:,}"
                    f"  RSS {sampler.latest / 1024:7.1f} MiB",
                    flush=True,
                )
                next_report += PROGRESS_EVERY_S
            await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def delete_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix + ".")]
        await admin.delete_topics(mine)
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class Result:
    records: int
    seconds: float
    bad: int
    """Records produced that the worker must dead-letter."""
    dead_letters: int
    alerts: int
    rss_before_kib: int
    rss_peak_kib: int
    rss_after_kib: int
    high_water_kib: int
    """VmHWM: the largest RSS since the worker started, start-up included."""


def measure(settings: Settings, mix: Mix, records: int, logs: Path) -> Result:
    """Run one worker over `records` records of `mix` on fresh topics, deleted afterwards;
    the worker logs to the file `logs`."""
    partitions = asyncio.run(ensure_topics(settings))
    posts, deadletter = settings.topic("posts"), settings.topic("deadletter")
    try:
        with worker(settings, logs) as process:
            asyncio.run(warm_up(settings, process, logs))
            time.sleep(2)  # the warm-up's commit and whatever the alert left to settle
            before = rss_kib(process.pid)
            sampler = Sampler(process.pid)
            sampler.start()
            print(f"worker ready, RSS {before / 1024:.1f} MiB; producing", flush=True)
            started = time.monotonic()

            async def run() -> int:
                bad = await produce(settings, mix.records(records))
                print(f"  {time.monotonic() - started:6.0f} s  all produced", flush=True)
                total = await ends(settings, posts, partitions[posts])
                await until_committed(
                    settings, total, process=process, sampler=sampler, logs=logs, started=started
                )
                return bad

            bad = asyncio.run(run())
            seconds = time.monotonic() - started
            time.sleep(5)  # idle again: what stays is what the records left behind
            sampler.stop()
            alive(process, logs)
            after, high_water = rss_kib(process.pid), rss_kib(process.pid, "VmHWM")
        alerts = settings.topic("alerts")
        return Result(
            records=records,
            seconds=seconds,
            bad=bad,
            dead_letters=asyncio.run(ends(settings, deadletter, partitions[deadletter])),
            alerts=asyncio.run(ends(settings, alerts, partitions[alerts])),
            rss_before_kib=before,
            rss_peak_kib=sampler.peak,
            rss_after_kib=after,
            high_water_kib=high_water,
        )
    finally:
        asyncio.run(delete_topics(settings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("POSTWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--big-max",
        type=int,
        default=1_000_000,
        help="largest record in bytes (the broker takes about 1 MiB per record)",
    )
    parser.add_argument("--seed", type=int, default=20250725)
    parser.add_argument("--log", type=Path, help="keep the worker's log in this file")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=sorted(KINDS),
        help="leave this kind of record out of the mix (repeatable)",
    )
    args = parser.parse_args()
    mix = Mix(
        {name: share for name, share in KINDS.items() if name not in args.skip},
        args.big_max,
        args.seed,
    )
    prefix = f"bench-memory-{uuid.uuid4().hex[:8]}"
    settings = replace(Settings.from_env({}), kafka_bootstrap=args.bootstrap, topic_prefix=prefix)
    print(f"topics {prefix}.*, worker with {PACK.name}, {args.records:,} records", flush=True)
    try:
        if args.log:
            result = measure(settings, mix, args.records, args.log)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                result = measure(settings, mix, args.records, Path(tmp) / "worker.log")
    except BenchError as exc:
        made = ", ".join(f"{name} {n:,}" for name, n in sorted(mix.made.items()))
        sys.exit(f"worker_memory: {exc}\nrecords made so far: {made}")
    mib = 1024.0
    print()
    print("records: " + ", ".join(f"{name} {n:,}" for name, n in sorted(mix.made.items())))
    if args.skip:
        print("left out: " + ", ".join(args.skip))
    print("| records | seconds | records/s | RSS before | RSS peak | RSS after | dead letters |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {result.records:,} | {result.seconds:,.0f} | {result.records / result.seconds:,.0f}"
        f" | {result.rss_before_kib / mib:.1f} MiB | {result.rss_peak_kib / mib:.1f} MiB"
        f" | {result.rss_after_kib / mib:.1f} MiB"
        f" | {result.dead_letters:,} (of {result.bad:,} bad) |"
    )
    print(
        f"VmHWM since start {result.high_water_kib / mib:.1f} MiB;"
        f" alerts {result.alerts:,} (1 from the warm-up)"
    )


if __name__ == "__main__":
    main()
