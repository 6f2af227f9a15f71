"""`postwatch bench --json`: the figures of a run, the raw loop's settings, and the two
ratios the goals are set on; the table shows every figure."""

from __future__ import annotations

import json

import msgspec
from rich.console import Console

from postwatch.bench.report import render
from postwatch.bench.run import BenchResult

TRIAL = {"linger_ms": 5, "max_batch_size": 262144, "max_records": 2000}
FIGURES = {
    "posts": 200000,
    "partitions": 4,
    "raw_posts_per_s": 80000.0,
    "raw_trials": [
        TRIAL | {"max_partition_fetch_bytes": 1048576, "batched": False, "posts_per_s": 70000.0},
        TRIAL | {"max_partition_fetch_bytes": 4194304, "batched": True, "posts_per_s": 80000.0},
    ],
    "one_worker_posts_per_s": 40000.0,
    "one_worker_with_startup_posts_per_s": 20000.0,
    "startup_cold_s": 5.0,
    "two_workers_posts_per_s": 72000.0,
    "two_workers_with_startup_posts_per_s": 50000.0,
    "startup_cached_s": 2.5,
    "storm_posts_per_s": 9000.0,
    "storm_alerts": 400000,
    "storm_alerts_per_s": 18000.0,
    "storm_log_bytes_per_100k_posts": 1200.0,
    "latency_rate_per_s": 20000.0,
    "latency_alerts": 3000,
    "latency_p50_ms": 4.0,
    "latency_p95_ms": 9.0,
    "latency_p99_ms": 20.0,
    "alerts_expected": 1000,
    "alerts_one_worker": 1000,
}


def test_the_json_of_a_run_holds_every_figure_and_the_ratios() -> None:
    result = msgspec.json.decode(json.dumps(FIGURES), type=BenchResult)
    figures = json.loads(result.encode())
    assert figures == FIGURES | {"worker_over_raw": 0.5, "two_over_one": 1.8}


def test_the_table_shows_every_trial_of_the_raw_loop_and_the_storm() -> None:
    result = msgspec.json.decode(json.dumps(FIGURES), type=BenchResult)
    console = Console(width=200, record=True)
    console.print(render(result))
    text = console.export_text()
    assert "one by one" in text
    assert "fetch 1,048,576 bytes" in text
    assert "whole batches" in text
    assert "fetch 4,194,304 bytes" in text
    assert "18,000 alerts/s" in text
    assert "2.5 s" in text
