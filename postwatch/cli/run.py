"""`postwatch worker`, `enrich`, `correlate`, `bench` and `demo`, the processes that run the
pipeline, and `schema`, the contracts they keep."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from postwatch.cli.shared import (
    METRICS_PORT,
    CommandContext,
    compiled,
    count_option,
    fetch_options,
    media_private,
    packs_option,
    pass_context,
    path_option,
    positive_option,
    refused,
    text_errors,
)
from postwatch.rules import PackError
from postwatch.schemas import SCHEMAS, schema_text
from postwatch.settings import DEFAULT_BOOTSTRAP, SettingsError

__all__ = ["bench", "correlate", "demo", "enrich", "schema", "worker"]


@click.command()
@click.argument("name", type=click.Choice(sorted(SCHEMAS)))
def schema(name: str) -> None:
    """Print the JSON Schema of Post v1 (post) or Alert v1 (alert)."""
    click.echo(schema_text(name), nl=False)


@click.command()
@packs_option("Rule pack file (repeat for several); default: POSTWATCH_RULES.")
@pass_context
def worker(ctx: CommandContext, packs: tuple[Path, ...]) -> None:
    """Run a stream-processing worker (start several for one consumer group)."""
    from postwatch.streams.worker import run_worker  # noqa: PLC0415 - only the worker needs it

    settings = ctx.settings
    chosen = packs or settings.rules
    if not chosen:
        raise click.UsageError("no rule packs: pass --rules PACK or set POSTWATCH_RULES")
    run_worker(settings, compiled(tuple(chosen), settings))


@click.command()
@media_private
@click.option(
    "--video",
    is_flag=True,
    help="Fetch videos too and give their keyframes (vPDQ: the `video` extra).",
)
@count_option("--concurrency", "Downloads in flight at once (over all posts of a batch).", 8, 256)
@count_option(
    "--hash-processes", "Child processes that decode, hash and read images (one a core).", 1, 64
)
@click.option("--metrics-port", **METRICS_PORT)
@pass_context
def enrich(
    ctx: CommandContext,
    *,
    media_private: bool,
    video: bool,
    concurrency: int,
    hash_processes: int,
    metrics_port: int,
) -> None:
    """Fetch the media of raw posts and pass them on to the workers (several: one group).

    Reads <prefix>.posts.raw (where connectors write when POSTWATCH_ENRICH is true), fetches
    each post's images, fills their SHA-256, MD5, PDQ, local features and the text read in
    them (POSTWATCH_OCR_LANGUAGES), and with --video the keyframes of its videos, and
    produces the post to <prefix>.posts. An image that cannot be fetched keeps its reason in
    the item's `error`; a record that is no post goes to the dead-letter topic. Runs until
    SIGTERM or Ctrl-C.
    """
    from postwatch.streams.enrich import run_enrich  # noqa: PLC0415 - aiohttp, the hashers

    options = replace(
        fetch_options(ctx.settings, private=media_private, video=video),
        concurrency=concurrency,
        hash_processes=hash_processes,
    )
    with text_errors():
        run_enrich(ctx.settings, options, metrics_port=metrics_port)


@click.command()
@packs_option(
    "Rule pack file whose `correlation` thresholds hold for its accounts (repeat for several);"
    " default: POSTWATCH_RULES. Packs published on the rules topic are read too."
)
@pass_context
def correlate(ctx: CommandContext, packs: tuple[Path, ...]) -> None:
    """Correlate alerts into campaigns and successors (start several for one group).

    Reads the alerts topic: accounts re-posting one original raise a `campaign` alert, an
    account re-posting (or imitating) another a `successor` alert, each updated by summaries
    as more joins. Thresholds and windows are the settings (POSTWATCH_CAMPAIGN_AUTHORS, ...)
    or, for a pack's accounts and content, the pack's `correlation` section. Runs until
    SIGTERM or Ctrl-C; its state is kept in changelog topics.
    """
    from postwatch.streams.correlate import run_correlate  # noqa: PLC0415 - faust, only here

    try:
        run_correlate(ctx.settings, packs or ctx.settings.rules)
    except PackError as exc:
        raise refused(exc) from exc
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--posts", default=200_000, show_default=True, help="Posts in the workload.")
@click.option("--terms", default=10_000, show_default=True, help="Keyword phrases in the pack.")
@click.option("--hashes", default=1_000_000, show_default=True, help="PDQ hashes in the bank.")
@click.option(
    "--latency-seconds",
    default=30.0,
    show_default=True,
    help="How long to feed posts at half rate for the latency figures.",
)
@path_option(
    "--workdir", "Where to write the workload and worker logs (default: a temporary folder)."
)
@path_option("--json", "Also write the figures to this file as JSON.", "json_path")
@pass_context
def bench(ctx: CommandContext, /, **options: Any) -> None:
    """Measure throughput and latency on the configured broker, against its raw ceiling.

    Generates a workload (posts in several scripts, 10 % with media hashes, 0.5 % matching; a
    pack of TERMS phrases and a bank of HASHES PDQ hashes), then measures in one run: (a) a
    bare consume-and-produce loop with no parsing, (b) one worker, (c) two workers in one
    group, and the latency observed_at → alert at half of (b)'s rate. Uses fresh topics.
    """
    from postwatch.bench.report import bench_command  # noqa: PLC0415 - only bench needs it
    from postwatch.bench.run import BenchError  # noqa: PLC0415

    try:
        bench_command(ctx.settings, **options)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@positive_option("--rate", "Posts per second to replay.", 10.0)
@pass_context
def demo(ctx: CommandContext, rate: float) -> None:
    """Run everything on a local broker with sample posts and print alerts until Ctrl-C.

    Starts a local Kafka broker unless POSTWATCH_KAFKA_BOOTSTRAP names another, creates the
    topics, starts a worker with the demo rule pack, replays the bundled sample posts, and
    prints each alert as it arrives. Ctrl-C or SIGTERM stops what it started.
    """
    from postwatch.demo import run_demo  # noqa: PLC0415

    settings = ctx.settings
    run_demo(settings, rate=rate, local_broker=settings.kafka_bootstrap == DEFAULT_BOOTSTRAP)
