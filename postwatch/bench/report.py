"""`postwatch bench`: build the workload, run the measurements, print the table."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from postwatch.bench.run import BenchResult, describe, run_bench
from postwatch.bench.workload import write_workload
from postwatch.settings import Settings

__all__ = ["bench_command", "render"]

GOALS = {"worker_over_raw": 0.8, "two_over_one": 1.8, "latency_p99_ms": 250.0}


def render(result: BenchResult) -> Table:
    table = Table(title=f"postwatch bench: {result.posts:,} posts, {result.partitions} partitions")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal", justify="right")
    rows = [
        ("(a) raw consume → produce, the best of", f"{result.raw_posts_per_s:,.0f} posts/s", ""),
        *(
            (f"    {describe(trial)}", f"{trial.posts_per_s:,.0f} posts/s", "")
            for trial in result.raw_trials
        ),
        ("(b) one worker", f"{result.one_worker_posts_per_s:,.0f} posts/s", ""),
        ("    with start-up", f"{result.one_worker_with_startup_posts_per_s:,.0f} posts/s", ""),
        ("    start-up, pack compiled cold", f"{result.startup_cold_s:.1f} s", ""),
        ("(c) two workers", f"{result.two_workers_posts_per_s:,.0f} posts/s", ""),
        ("    with start-up", f"{result.two_workers_with_startup_posts_per_s:,.0f} posts/s", ""),
        ("    start-up, pack from the cache", f"{result.startup_cached_s:.1f} s", ""),
        ("b / a", f"{result.worker_over_raw:.2f}", f"≥ {GOALS['worker_over_raw']}"),
        ("c / b", f"{result.two_over_one:.2f}", f"≥ {GOALS['two_over_one']}"),
        ("alerts from (b)", f"{result.alerts_one_worker:,} of {result.alerts_expected:,}", ""),
        ("(d) alert storm", f"{result.storm_posts_per_s:,.0f} posts/s", ""),
        ("    alerts", f"{result.storm_alerts_per_s:,.0f} alerts/s", ""),
        ("    log at info", f"{result.storm_log_bytes_per_100k_posts:,.0f} bytes/100k posts", ""),
        (
            f"latency at {result.latency_rate_per_s:,.0f} posts/s, p50",
            f"{result.latency_p50_ms:,.0f} ms",
            "",
        ),
        ("latency p95", f"{result.latency_p95_ms:,.0f} ms", ""),
        ("latency p99", f"{result.latency_p99_ms:,.0f} ms", f"≤ {GOALS['latency_p99_ms']:.0f} ms"),
        ("alerts timed", f"{result.latency_alerts:,}", ""),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def bench_command(
    settings: Settings,
    *,
    posts: int,
    terms: int,
    hashes: int,
    latency_seconds: float,
    workdir: Path | None,
    json_path: Path | None,
) -> None:
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="postwatch-bench-") as scratch:
        where = workdir or Path(scratch)
        console.print(f"writing the workload to {where} …")
        workload = write_workload(where, posts=posts, terms=terms, hashes=hashes)
        result = run_bench(
            settings, workload, logs=where, progress=console.print, latency_s=latency_seconds
        )
    Console().print(render(result))
    if json_path is not None:
        json_path.write_bytes(result.encode())
