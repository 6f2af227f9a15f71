"""What the flood guard costs the worker's batch loop, in an alert storm.

    python benchmarks/flood_bench.py [--posts 200000] [--runs 5]

Runs `MatchStage.process` (decode, evaluate, build and send alerts; the sends go to sinks that
acknowledge at once, so the broker is out of the measure) over POSTS posts in batches of
2,000, every post matched by two rules of the cheapest kinds, an account and a domain (two
alerts each, and little matching work: the case where per-alert work weighs most), three
ways, in turns, RUNS times each:

1. without the guard (`POSTWATCH_FLOOD_ALERTS_PER_MINUTE=0`);
2. with it, counting every alert, under a limit no rule reaches;
3. with both rules shadowed by it (every alert copied with `shadow: true`).

Prints posts/s and alerts/s of each (the best run, then every run) and the cost of 2 and 3
against 1; then the guard's own work per alert, timed alone: counting an alert
(`FloodGuard.count`) and copying one as shadow.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from postwatch.logs import configure_logging
from postwatch.rules import Alert, Engine, parse_pack, parse_post
from postwatch.rules.flood import FloodGuard, FloodRecord
from postwatch.streams.agents.match import MatchStage

PACK = """
pack: storm
version: 1
rules:
  - id: storm-account
    title: A listed account
    severity: high
    match: {accounts: ["bench:listed"]}
  - id: storm-domain
    title: Links to the listed site
    severity: low
    match: {domains: ["example.org"]}
"""
BATCH = 2000


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int


async def _acknowledged(key: bytes | None, value: bytes) -> Awaitable[Any]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


def _records(count: int) -> list[Record]:
    return [
        Record(
            None,
            orjson.dumps(
                {
                    "schema": "postwatch.post/1",
                    "id": f"bench:{n}",
                    "source": "bench",
                    "author": {"id": "bench:listed", "handle": "listed"},
                    "created_at": "2026-01-01T00:00:00Z",
                    "text": f"post {n}",
                    "links": [f"https://example.org/{n}"],
                }
            ),
            "posts",
            0,
            n,
        )
        for n in range(count)
    ]


def _guard(way: str) -> FloodGuard | None:
    if way == "off":
        return None
    guard = FloodGuard(10**12)
    if way == "shadowed":
        for rule in ("storm-account", "storm-domain"):
            guard.apply(FloodRecord(rule=rule, state="flooded", at=""), 0)
    return guard


async def _run(engine: Engine, records: list[Record], way: str) -> tuple[float, int]:
    stage = MatchStage(engine, _acknowledged, _acknowledged, flood=_guard(way))
    started = time.perf_counter()
    alerts = 0
    for start in range(0, len(records), BATCH):
        alerts += await stage.process(records[start : start + BATCH])
    return time.perf_counter() - started, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000, help="posts per run")
    parser.add_argument("--runs", type=int, default=5, help="runs of each way, in turns")
    args = parser.parse_args()
    configure_logging("info")  # as the worker logs: the alerts' debug lines are not written
    engine = Engine([parse_pack(PACK, "storm.yaml")])
    records = _records(args.posts)
    ways = ("off", "counting", "shadowed")
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    alerts = 0
    for _ in range(args.runs):
        for way in ways:
            took, alerts = asyncio.run(_run(engine, records, way))
            seconds[way].append(took)
    best = {way: min(runs) for way, runs in seconds.items()}
    for way in ways:
        runs = ", ".join(f"{args.posts / s:,.0f}" for s in seconds[way])
        print(
            f"{way:9} {args.posts / best[way]:>9,.0f} posts/s  {alerts / best[way]:>9,.0f} "
            f"alerts/s (best of {args.runs}; every run: {runs})"
        )
    for way in ways[1:]:
        print(f"{way} against off: {best[way] / best['off'] - 1:+.1%} time")
    _per_alert(engine, records[0])


def _per_alert(engine: Engine, record: Record) -> None:
    """The guard's work for one alert, alone, against what the stage spends on one."""
    post = parse_post(record.value or b"")
    alert = Alert.of_match(engine.evaluate(post)[0])
    guard = FloodGuard(10**12)
    calls = 1_000_000
    started = time.perf_counter()
    for n in range(calls):
        guard.count("storm-account", "storm", n / 10_000)  # 10,000 alerts a second
    counting = (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for _ in range(calls):
        msgspec.structs.replace(alert, shadow=True)
    copying = (time.perf_counter() - started) / calls
    print(f"per alert: counting {counting * 1e9:.0f} ns, copying as shadow {copying * 1e9:.0f} ns")


if __name__ == "__main__":
    main()
