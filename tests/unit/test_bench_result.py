"""`postwatch bench --json`: the figures of a run and the two ratios the goals are set on."""

from __future__ import annotations

import json

import msgspec

from postwatch.bench.run import BenchResult

FIGURES = (
    b'{"posts": 200000, "partitions": 4, "raw_posts_per_s": 80000.0,'
    b' "one_worker_posts_per_s": 40000.0, "two_workers_posts_per_s": 72000.0,'
    b' "latency_rate_per_s": 20000.0, "latency_alerts": 3000, "latency_p50_ms": 4.0,'
    b' "latency_p95_ms": 9.0, "latency_p99_ms": 20.0, "alerts_expected": 1000,'
    b' "alerts_one_worker": 1000}'
)


def test_the_json_of_a_run_holds_every_figure_and_the_ratios() -> None:
    result = msgspec.json.decode(FIGURES, type=BenchResult)
    figures = json.loads(result.encode())
    assert figures == json.loads(FIGURES) | {"worker_over_raw": 0.5, "two_over_one": 1.8}
