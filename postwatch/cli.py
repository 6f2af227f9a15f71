"""The one entry point: `postwatch COMMAND`. Run `postwatch --help` for the commands."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click
import orjson

from postwatch.logs import configure_logging
from postwatch.progress import progress_counter
from postwatch.rules import Engine, PackError, build_alert, load_packs, parse_post
from postwatch.rules.posts import InvalidPost
from postwatch.schemas import SCHEMAS, schema_text
from postwatch.settings import DEFAULT_BOOTSTRAP, Settings, SettingsError

__all__ = ["main"]


class _Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from exc
            configure_logging(self._settings.log_level)
        return self._settings


pass_context = click.make_pass_decorator(_Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="postwatch")
def main() -> None:
    """postwatch: public posts in, rule matches out as alerts, on Kafka.

    Settings come from POSTWATCH_* environment variables (POSTWATCH_KAFKA_BOOTSTRAP,
    POSTWATCH_TOPIC_PREFIX, POSTWATCH_RULES, ...) and the TOML file named by
    POSTWATCH_CONFIG.
    """
    configure_logging()


def _engine(packs: tuple[Path, ...]) -> Engine:
    try:
        return Engine(load_packs(list(packs)))
    except PackError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in rule packs") from exc


@main.command()
@click.argument("name", type=click.Choice(sorted(SCHEMAS)))
def schema(name: str) -> None:
    """Print the JSON Schema of Post v1 (post) or Alert v1 (alert)."""
    click.echo(schema_text(name), nl=False)


@main.group()
def rules() -> None:
    """Work with rule packs."""


@rules.command("lint")
@click.argument("packs", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_lint(packs: tuple[Path, ...]) -> None:
    """Check rule packs; print every problem as file:line: rule-id: message, exit 1 if any."""
    try:
        loaded = load_packs(list(packs))
    except PackError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        sys.exit(1)
    for pack in loaded:
        click.echo(
            f"{pack.source_file}: ok: pack {pack.id} v{pack.version}, {len(pack.rules)} rules"
        )


@contextmanager
def _open_output(path: Path | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdout.buffer
    else:
        with path.open("wb") as out:
            yield out


@main.command()
@click.option(
    "--rules",
    "packs",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Rule pack file (repeat for several).",
)
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path, allow_dash=True),
    help="Post v1 JSON lines; - for standard input.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write alerts here instead of standard output.",
)
def match(packs: tuple[Path, ...], input_path: Path, output: Path | None) -> None:
    """Offline: evaluate a file of posts with the same engine as the workers.

    Alerts are written as JSON lines; lines that are not valid Post v1 are reported on
    standard error with their line number and skipped.
    """
    engine = _engine(packs)
    source: IO[bytes] = sys.stdin.buffer if str(input_path) == "-" else _open_input(input_path)
    posts = alerts = bad = 0
    with source, _open_output(output) as out, progress_counter("posts matched") as progress:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                post = parse_post(line)
            except InvalidPost as exc:
                bad += 1
                click.echo(f"{input_path}:{number}: skipped: {exc}", err=True)
                continue
            posts += 1
            progress(posts)
            for found in engine.evaluate(post):
                out.write(orjson.dumps(build_alert(found), option=orjson.OPT_APPEND_NEWLINE))
                alerts += 1
    click.echo(f"{posts} posts, {alerts} alerts, {bad} skipped lines", err=True)


def _open_input(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc


@main.command()
@click.option(
    "--rules",
    "packs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Rule pack file (repeat for several); default: POSTWATCH_RULES.",
)
@pass_context
def worker(ctx: _Context, packs: tuple[Path, ...]) -> None:
    """Run a stream-processing worker (start several for one consumer group)."""
    from postwatch.streams.worker import run_worker  # noqa: PLC0415 - faust is slow to import

    settings = ctx.settings
    chosen = packs or settings.rules
    if not chosen:
        raise click.UsageError("no rule packs: pass --rules PACK or set POSTWATCH_RULES")
    run_worker(settings, _engine(tuple(chosen)))


@main.group()
def connect() -> None:
    """Run a connector that produces posts to the posts topic."""


@connect.command("jsonl")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path, allow_dash=True),
    help="Post v1 JSON lines; - for standard input.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Posts per second (default: as fast as the broker takes them).",
)
@pass_context
def connect_jsonl(ctx: _Context, input_path: Path, rate: float | None) -> None:
    """Replay a file of Post v1 lines into the posts topic, then exit."""
    from postwatch.connectors.jsonl import run_jsonl  # noqa: PLC0415

    source: IO[bytes] = sys.stdin.buffer if str(input_path) == "-" else _open_input(input_path)
    with source, progress_counter("posts produced") as progress:
        report = asyncio.run(run_jsonl(ctx.settings, source, rate=rate, progress=progress))
    click.echo(f"{report.produced} posts produced, {report.skipped} lines skipped", err=True)


@main.command()
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Posts per second to replay.",
)
@pass_context
def demo(ctx: _Context, rate: float) -> None:
    """Run everything on a local broker with sample posts and print alerts until Ctrl-C.

    Starts a local Kafka broker unless POSTWATCH_KAFKA_BOOTSTRAP names another, creates the
    topics, starts a worker with the demo rule pack, replays the bundled sample posts, and
    prints each alert as it arrives. Ctrl-C stops what it started.
    """
    from postwatch.demo import run_demo  # noqa: PLC0415

    settings = ctx.settings
    run_demo(settings, rate=rate, local_broker=settings.kafka_bootstrap == DEFAULT_BOOTSTRAP)
