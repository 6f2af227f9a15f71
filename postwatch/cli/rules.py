"""`postwatch rules`: check, test and publish rule packs, add to their banks, list what was
published."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from postwatch.cli.shared import (
    CommandContext,
    compiled,
    echo_problems,
    pack_files,
    pass_context,
    refused,
)
from postwatch.console import printable
from postwatch.rules import Engine, Pack, PackError, load_packs
from postwatch.rules.alerts import isoformat
from postwatch.rules.language.selftest import TestOutcome, failures, run_tests
from postwatch.settings import Settings

if TYPE_CHECKING:
    from postwatch.rules.language.published import PublishedPack
    from postwatch.rules.matching.cache import CompileCache

__all__ = ["rules"]


@click.group()
def rules() -> None:
    """Work with rule packs."""


@rules.command("lint")
@pack_files
def rules_lint(packs: tuple[Path, ...]) -> None:
    """Check rule packs and run their tests; print every problem as
    file:line: rule-id: message, exit 1 if any."""
    try:
        loaded = load_packs(list(packs))
    except PackError as exc:
        echo_problems(exc, err=False)
        sys.exit(1)
    failed = failures(run_tests(Engine(loaded)))
    for problem in failed:
        click.echo(printable(str(problem)))
    if failed:
        sys.exit(1)
    for pack in loaded:
        click.echo(
            printable(
                f"{pack.source_file}: ok: pack {pack.id} v{pack.version}, {len(pack.rules)} rules"
            )
        )


@rules.command("test")
@pack_files
def rules_test(packs: tuple[Path, ...]) -> None:
    """Run each rule's own tests (tests.match, tests.no_match); a table per rule, exit 1 on
    any miss."""
    from rich.console import Console  # noqa: PLC0415 - only this command draws tables
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    try:
        outcomes = run_tests(Engine(load_packs(list(packs))))
    except PackError as exc:
        raise refused(exc) from exc
    console = Console(soft_wrap=False)
    by_rule: dict[str, list[TestOutcome]] = {}
    for outcome in outcomes:
        by_rule.setdefault(f"{outcome.rule.pack}/{outcome.rule.id}", []).append(outcome)
    for name, rule_outcomes in by_rule.items():
        # Text, not str: rich would read markup in a title or a test's text
        title = Text(printable(f"{name}: {rule_outcomes[0].rule.title}"))
        table = Table(title=title, title_justify="left")
        for column in ("test", "line", "post", "result"):
            table.add_column(column)
        for o in rule_outcomes:
            post = o.test.post
            text = post.text or post.author.handle or post.author.display_name or post.id
            result = "[green]ok[/]" if o.passed else "[bold red]FAIL[/]"
            table.add_row(o.label, str(o.test.line), Text(printable(text[:60])), result)
        console.print(table)
    failed = sum(not o.passed for o in outcomes)
    click.echo(f"{len(outcomes)} tests, {failed} failed, {len(by_rule)} rules with tests")
    if failed:
        sys.exit(1)


@rules.command("publish")
@pack_files
@pass_context
def rules_publish(ctx: CommandContext, packs: tuple[Path, ...]) -> None:
    """Check and test packs, then publish them to the rules topic: every worker applies them
    within seconds, without restarting. The hashes of a bank's file go in the published
    pack in place of the file (workers read no files); a pack too large with them is refused
    (send them with `rules bank --file` instead). Given the workers' packs (POSTWATCH_RULES)
    and a cache folder they share (POSTWATCH_CACHE_DIR), it also compiles the engine they
    will build, so that they apply the packs without compiling them."""
    from postwatch.rules.language.published import publishable_text  # noqa: PLC0415

    settings = ctx.settings
    engine = compiled(packs, ctx.settings)
    try:
        texts = [
            (pack, publishable_text(path)) for path, pack in zip(packs, engine.packs, strict=True)
        ]
    except PackError as exc:
        raise refused(exc) from exc
    asyncio.run(_publish(settings, texts))


async def _publish(settings: Settings, texts: list[tuple[Pack, str]]) -> None:
    """Publish what changed against the rules topic, saying what for each pack."""
    import getpass  # noqa: PLC0415 - only this command names a publisher

    from postwatch.kafka.topics import RULES, ensure_topics  # noqa: PLC0415
    from postwatch.rules.language.published import (  # noqa: PLC0415
        NotStandalone,
        published_versions,
        to_publish,
    )
    from postwatch.rules.matching.cache import compile_cache  # noqa: PLC0415
    from postwatch.streams.live import publish_pack, read_all  # noqa: PLC0415 - aiokafka

    await ensure_topics(settings, live=True)
    current = published_versions(record.value for record in await read_all(settings, RULES))
    by = settings.published_by or getpass.getuser()
    cache = compile_cache(settings.cache_dir)
    try:
        records = to_publish(texts, current, now=datetime.now(UTC), by=by, cache=cache)
    except NotStandalone as exc:
        echo_problems(exc)
        message = f"{exc.source_file}: pack does not stand alone"
        raise click.ClickException(printable(message)) from exc
    new = [record for record in records if record is not None]
    if cache is not None and settings.rules and new:  # before the workers see the records
        _compile_for_workers(settings, cache, [*current, *new])
    for (pack, _), published in zip(texts, records, strict=True):
        if published is None:
            where = f"{pack.source_file}: pack {pack.id} v{pack.version}"
            click.echo(printable(f"{where} is published already"))
            continue
        await publish_pack(settings, published)
        click.echo(
            printable(
                f"{pack.source_file}: published pack {pack.id} v{pack.version} "
                f"({published.content_hash[:12]}): {'; '.join(published.changes)}"
            )
        )


def _compile_for_workers(
    settings: Settings, cache: CompileCache, versions: list[PublishedPack]
) -> None:
    """Compile into the cache the engine the workers (of `settings.rules`) will build once
    they apply `versions`; a problem in their packs is theirs to report."""
    from postwatch.rules.language.published import compile_for_workers  # noqa: PLC0415

    started = time.monotonic()
    try:
        compile_for_workers(load_packs(list(settings.rules), cache), versions, cache)
    except PackError as exc:
        click.echo(f"not compiled for the workers: {len(exc.problems)} problem(s) in their packs")
        return
    seconds = time.monotonic() - started
    click.echo(f"compiled the workers' engine into {cache.folder} in {seconds:.1f} s")


@rules.command("bank")
@click.argument("pack_id")
@click.argument("bank")
@click.argument("hashes", nargs=-1)
@click.option(
    "--algo",
    type=click.Choice(["pdq", "sha256", "md5", "sha512"]),
    default="pdq",
    show_default=True,
    help="Algorithm of the HASHES given on the command line.",
)
@click.option(
    "--file",
    "hash_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A hash list (same formats as a bank's file) to publish too.",
)
@click.option("--remove", is_flag=True, help="Remove these hashes instead of adding them.")
@pass_context
def rules_bank(
    ctx: CommandContext,
    pack_id: str,
    bank: str,
    hashes: tuple[str, ...],
    *,
    algo: str,
    hash_file: Path | None,
    remove: bool,
) -> None:
    """Add hashes to (or remove them from) a bank of a pack on every worker, one record per
    hash on the banks topic: no pack is published again."""
    from postwatch.kafka.topics import ensure_topics  # noqa: PLC0415
    from postwatch.rules.language.published import bank_entries  # noqa: PLC0415
    from postwatch.streams.live import publish_bank_entries  # noqa: PLC0415 - aiokafka

    try:
        entries = bank_entries(pack_id, bank, [(algo, value) for value in hashes], hash_file)
    except (ValueError, PackError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not entries:
        raise click.UsageError("no hashes: give HASHES or --file")

    async def publish(settings: Settings) -> None:
        await ensure_topics(settings, live=True)
        await publish_bank_entries(settings, entries, remove=remove)

    asyncio.run(publish(ctx.settings))
    click.echo(f"{'removed' if remove else 'added'} {len(entries)} hashes: {pack_id}/{bank}")


@rules.command("history")
@pass_context
def rules_history(ctx: CommandContext) -> None:
    """Every published version of every pack, oldest first: when, by whom, content hash and
    what changed."""
    from postwatch.kafka.topics import RULES_HISTORY, ensure_topics  # noqa: PLC0415
    from postwatch.rules.language.published import published_versions  # noqa: PLC0415
    from postwatch.streams.live import read_all  # noqa: PLC0415 - aiokafka

    async def history(settings: Settings) -> list[bytes | None]:
        await ensure_topics(settings, live=True)
        return [record.value for record in await read_all(settings, RULES_HISTORY)]

    for item in published_versions(asyncio.run(history(ctx.settings))):
        click.echo(
            printable(
                f"{isoformat(item.published_at)}  {item.pack} v{item.version}  "
                f"by {item.published_by}  {item.content_hash[:12]}  {'; '.join(item.changes)}"
            )
        )


@rules.command("backtest")
@pack_files
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="How far back: a duration (30m, 12h, 7d) or an ISO 8601 timestamp; the posts topic "
    "holds what its retention keeps.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--samples",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="Post ids listed for each rule's added and removed alerts, at most.",
)
@pass_context
def rules_backtest(
    ctx: CommandContext, packs: tuple[Path, ...], *, since: str, as_json: bool, samples: int
) -> None:
    """Run candidate packs over the posts of the posts topic since --since, and compare
    with what the live packs of the same ids raised on the alerts topic: per rule, the
    alerts the candidate would add and remove (by rule and post), with sample post ids.

    The step before `rules publish`. Nothing is committed and no alert is produced. Posts
    the workers have not read yet (beyond their group's committed offsets) are counted
    apart; progress goes to standard error.
    """
    import orjson  # noqa: PLC0415 - only this command prints JSON

    from postwatch.alerts.filters import BadSince, parse_since  # noqa: PLC0415
    from postwatch.streams.backtest import Backtest, BacktestError  # noqa: PLC0415 - aiokafka

    try:
        start = parse_since(since)
    except BadSince as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    engine = compiled(packs, ctx.settings)

    def progress(done: int, total: int) -> None:
        click.echo(f"backtest: {done:,} of {total:,} posts read", err=True)

    try:
        report = asyncio.run(Backtest(ctx.settings, engine, start, samples, progress).run())
    except BacktestError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(printable(orjson.dumps(report.to_json()).decode()))
        return
    width = max((len(diff.rule) for diff in report.rules), default=4)
    click.echo(f"{'rule':{width}}  {'added':>7}  {'removed':>7}  {'same':>7}  samples")
    for diff in report.rules:
        shown = [f"+{post}" for post in diff.added_samples]
        shown += [f"-{post}" for post in diff.removed_samples]
        line = f"{diff.rule:{width}}  {diff.added:>7}  {diff.removed:>7}  {diff.unchanged:>7}"
        click.echo(printable(f"{line}  {' '.join(shown)}".rstrip()))
    click.echo(
        f"since {report.since}: {report.posts_compared:,} posts compared: "
        f"{report.added:,} alerts added, {report.removed:,} removed, {report.unchanged:,} "
        f"unchanged ({report.candidate_alerts:,} with the candidate, {report.live_alerts:,} "
        f"live); {report.posts_pending:,} posts not read by the workers yet "
        f"({report.pending_alerts:,} candidate alerts), {report.posts_skipped:,} skipped, "
        f"{report.not_compared:,} live alerts on posts before the stretch"
    )


@rules.command("restore")
@click.argument("rule_id")
@pass_context
def rules_restore(ctx: CommandContext, rule_id: str) -> None:
    """Give back RULE_ID, which the flood guard shadowed for raising too many alerts a
    minute: on every worker, its alerts are no longer marked shadow, and its count starts
    again (a rule that floods again is shadowed again, with a new rule_flood alert). The
    restore is recorded with who gave it (POSTWATCH_PUBLISHED_BY, else the OS user)."""
    import getpass  # noqa: PLC0415 - only the commands that name who acted

    from postwatch.kafka.topics import ensure_topics  # noqa: PLC0415
    from postwatch.streams.flood import NotFlooded, restore  # noqa: PLC0415 - aiokafka

    settings = ctx.settings
    by = settings.published_by or getpass.getuser()

    async def give_back() -> None:
        await ensure_topics(settings, live=True)
        flooded = await restore(settings, rule_id, by)
        click.echo(
            printable(
                f"restored rule {rule_id} (pack {flooded.pack}), shadowed since {flooded.at} "
                f"for {flooded.count} alerts in a minute (limit {flooded.limit})"
            )
        )

    try:
        asyncio.run(give_back())
    except NotFlooded as exc:
        raise click.ClickException(printable(str(exc))) from exc
