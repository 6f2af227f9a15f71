"""`postwatch bench --json`: the figures of a run and the two ratios the goals are set on."""

from __future__ import annotations

import json

from postwatch.bench.run import BenchResult


def test_the_json_of_a_run_holds_every_figure_and_the_ratios() -> None:
    result = BenchResult(
        posts=200_000,
        partitions=4,
        raw_posts_per_s=80_000.0,
        one_worker_posts_per_s=40_000.0,
        two_workers_posts_per_s=72_000.0,
        latency_rate_per_s=20_000.0,
        latency_alerts=3_000,
        latency_p50_ms=4.0,
        latency_p95_ms=9.0,
        latency_p99_ms=20.0,
        alerts_expected=1_000,
        alerts_one_worker=1_000,
    )
    figures = json.loads(result.encode())
    assert figures["posts"] == 200_000
    assert figures["latency_p99_ms"] == 20.0
    assert figures["worker_over_raw"] == 0.5
    assert figures["two_over_one"] == 1.8
    assert len(figures) == 14
