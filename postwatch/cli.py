"""The one entry point: `postwatch COMMAND`. Run `postwatch --help` for the commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click
import orjson

from postwatch.connectors.base import Connector, ConnectorError
from postwatch.console import printable
from postwatch.logs import configure_logging
from postwatch.progress import progress_counter
from postwatch.rules import Engine, PackError, Post, Severity, build_alert, load_packs, parse_posts
from postwatch.rules.alerts import isoformat
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.rules.language.selftest import TestOutcome, compile_tested, failures, run_tests
from postwatch.rules.posts import InvalidPost
from postwatch.schemas import SCHEMAS, schema_text
from postwatch.settings import DEFAULT_BOOTSTRAP, Settings, SettingsError

if TYPE_CHECKING:
    from postwatch.alerts.feed import Start

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
        return compile_tested(packs)
    except PackError as exc:
        for problem in exc.problems:
            click.echo(printable(str(problem)), err=True)
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
    """Check rule packs and run their tests; print every problem as
    file:line: rule-id: message, exit 1 if any."""
    try:
        loaded = load_packs(list(packs))
    except PackError as exc:
        for problem in exc.problems:
            click.echo(printable(str(problem)))
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
@click.argument("packs", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_test(packs: tuple[Path, ...]) -> None:
    """Run each rule's own tests (tests.match, tests.no_match); a table per rule, exit 1 on
    any miss."""
    from rich.console import Console  # noqa: PLC0415 - only this command draws tables
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    try:
        outcomes = run_tests(Engine(load_packs(list(packs))))
    except PackError as exc:
        for problem in exc.problems:
            click.echo(printable(str(problem)), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in rule packs") from exc
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
@click.argument("packs", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_context
def rules_publish(ctx: _Context, packs: tuple[Path, ...]) -> None:
    """Check and test packs, then publish them to the rules topic: every worker applies them
    within seconds, without restarting. A pack must stand alone (inline bank hashes only)."""
    import getpass  # noqa: PLC0415 - only this command names a publisher

    from postwatch.kafka.topics import RULES, ensure_topics  # noqa: PLC0415
    from postwatch.rules.language.published import PublishedPack, changes, content_hash  # noqa: PLC0415
    from postwatch.streams.live import publish_pack, read_all  # noqa: PLC0415 - aiokafka

    settings = ctx.settings
    engine = _engine(packs)
    asyncio.run(ensure_topics(settings, live=True))
    current: dict[str, PublishedPack] = {}
    for record in asyncio.run(read_all(settings, RULES)):
        if record.value is not None:
            previous = PublishedPack.from_json(orjson.loads(record.value))
            current[previous.pack] = previous
    now = datetime.now(UTC)
    for path, pack in zip(packs, engine.packs, strict=True):
        text = path.read_text(encoding="utf-8")
        before = current.get(pack.id)
        if before is not None and before.content_hash == content_hash(text):
            click.echo(printable(f"{path}: pack {pack.id} v{pack.version} is published already"))
            continue
        old = None
        if before is not None:
            with contextlib.suppress(PackError):
                old = before.load()
        published = PublishedPack(
            pack.id,
            pack.version,
            text,
            content_hash(text),
            now,
            settings.published_by or getpass.getuser(),
            changes(old, pack),
        )
        try:
            published.load()  # what every worker will do with it
        except PackError as exc:
            for problem in exc.problems:
                click.echo(printable(str(problem)), err=True)
            raise click.ClickException(printable(f"{path}: pack does not stand alone")) from exc
        asyncio.run(publish_pack(settings, published))
        click.echo(
            printable(
                f"{path}: published pack {pack.id} v{pack.version} "
                f"({published.content_hash[:12]}): {'; '.join(published.changes)}"
            )
        )


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
    ctx: _Context,
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
    from postwatch.rules.language.published import BankEntry  # noqa: PLC0415
    from postwatch.rules.matching.banks import BankSpec, HashBank, load_bank  # noqa: PLC0415
    from postwatch.streams.live import publish_bank_entries  # noqa: PLC0415 - aiokafka

    check = HashBank(bank, min_quality=0)
    try:
        check.add_many([(algo, value, None) for value in hashes])
        if hash_file is not None:
            loaded = load_bank(BankSpec(bank, file=hash_file.resolve(), min_quality=0))
            check.add_many([(a, v, None) for a, v in loaded.entries()])
    except (ValueError, PackError) as exc:
        raise click.ClickException(str(exc)) from exc
    entries = [BankEntry(pack_id, bank, a, v) for a, v in check.entries()]
    if not entries:
        raise click.UsageError("no hashes: give HASHES or --file")
    asyncio.run(ensure_topics(ctx.settings, live=True))
    asyncio.run(publish_bank_entries(ctx.settings, entries, remove=remove))
    click.echo(f"{'removed' if remove else 'added'} {len(entries)} hashes: {pack_id}/{bank}")


@rules.command("history")
@pass_context
def rules_history(ctx: _Context) -> None:
    """Every published version of every pack, oldest first: when, by whom, content hash and
    what changed."""
    from postwatch.kafka.topics import RULES_HISTORY, ensure_topics  # noqa: PLC0415
    from postwatch.rules.language.published import PublishedPack  # noqa: PLC0415
    from postwatch.streams.live import read_all  # noqa: PLC0415 - aiokafka

    settings = ctx.settings
    asyncio.run(ensure_topics(settings, live=True))
    for record in asyncio.run(read_all(settings, RULES_HISTORY)):
        if record.value is None:
            continue
        item = PublishedPack.from_json(orjson.loads(record.value))
        click.echo(
            printable(
                f"{isoformat(item.published_at)}  {item.pack} v{item.version}  "
                f"by {item.published_by}  {item.content_hash[:12]}  {'; '.join(item.changes)}"
            )
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
@click.option(
    "--summary",
    is_flag=True,
    help="Print hits per rule (count, share of posts, sample post ids) on standard error.",
)
@pass_context
def match(
    ctx: _Context, packs: tuple[Path, ...], input_path: Path, output: Path | None, summary: bool
) -> None:
    """Offline: evaluate a file of posts with the same engine as the workers.

    Mirror detection runs too, in file order: posts of `learn: true` rules teach their
    fingerprints, later posts near them raise `reappearance` alerts, look-alikes of watched
    accounts `lookalike_account`, and authors with many alerts `escalation` alerts.

    Alerts are written as JSON lines; lines that are not valid Post v1 are reported on
    standard error with their line number and skipped. On a terminal a progress bar shows
    how much of the file is done; at the end, standard error has the counts and how long
    the posts took once the packs were compiled.
    """
    engine = _engine(packs)
    tracker = Tracker(
        MirrorConfig.from_settings(ctx.settings),
        [account for pack in engine.packs for account in pack.accounts],
    )
    source: IO[bytes] = sys.stdin.buffer if str(input_path) == "-" else _open_input(input_path)
    posts = bad = 0
    hits: dict[str, list[str]] = {f"{r.pack}/{r.id}": [] for r in engine.rules}
    kinds: Counter[str] = Counter()

    def evaluate(batch: list[Post], out: IO[bytes]) -> None:
        """Alerts of a batch of posts, in file order (mirror detection depends on it)."""
        now = datetime.now(UTC)
        idle = tracker.idle  # changes only when the tracker observes a post
        for post, found in zip(batch, engine.evaluate_many(batch), strict=True):
            if not found and idle:
                continue
            matched = [(m, build_alert(m, now)) for m in found]
            extra, _ = tracker.observe(post, matched, now)
            idle = tracker.idle
            for m, _alert in matched:
                hits[f"{m.rule.pack}/{m.rule.id}"].append(post.id)
            for alert in [a for _, a in matched] + extra:
                out.write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE))
                kinds[alert["kind"]] += 1

    def decode(lines: list[bytes], first: int) -> list[Post]:
        """The posts of lines numbered from `first`; the lines that are not one are
        reported, except blank ones."""
        nonlocal bad
        decoded = parse_posts(lines)
        batch = [post for post in decoded if not isinstance(post, InvalidPost)]
        if len(batch) == len(decoded):
            return batch
        for number, (line, post) in enumerate(zip(lines, decoded, strict=True), first):
            if isinstance(post, InvalidPost) and not line.isspace():
                bad += 1
                click.echo(printable(f"{input_path}:{number}: skipped: {post}"), err=True)
        return batch

    started = time.perf_counter()
    with source, _open_output(output) as out, _match_progress(source) as progress:
        read = 0
        while chunk := list(islice(source, _MATCH_BATCH)):
            batch = decode(chunk, read + 1)
            read += len(chunk)
            evaluate(batch, out)
            posts += len(batch)
            progress(posts)
    alerts = kinds.total()
    by_kind = "".join(f", {n} {kind}" for kind, n in sorted(kinds.items()) if kind != "rule")
    elapsed = time.perf_counter() - started
    click.echo(
        f"{posts} posts, {alerts} alerts{by_kind}, {bad} skipped lines "
        f"in {elapsed:.2f} s after start-up ({posts / max(elapsed, 1e-9):,.0f} posts/s)",
        err=True,
    )
    if summary:
        _print_summary(hits, posts)


_SAMPLES = 3
_MATCH_BATCH = 1024
"""Posts evaluated together (`Engine.evaluate_many`); the progress display moves by as many."""


def _print_summary(hits: dict[str, list[str]], posts: int) -> None:
    """Hits per rule, noisiest first, so a rule writer sees what a rule would raise."""
    width = max((len(name) for name in hits), default=4)
    click.echo(f"{'rule':{width}}  {'hits':>8}  {'share':>8}  sample post ids", err=True)
    for name, ids in sorted(hits.items(), key=lambda item: (-len(item[1]), item[0])):
        share = f"{len(ids) / posts:.3%}" if posts else "-"
        samples = ", ".join(ids[:_SAMPLES])
        click.echo(printable(f"{name:{width}}  {len(ids):>8}  {share:>8}  {samples}"), err=True)


@contextmanager
def _match_progress(source: IO[bytes]) -> Iterator[Callable[[int], None]]:
    """A bar over the bytes of a regular input file on a terminal; otherwise a counter."""
    try:
        size = os.fstat(source.fileno()).st_size if sys.stderr.isatty() else 0
    except (OSError, ValueError):  # standard input of a test runner has no descriptor
        size = 0
    if not size:
        with progress_counter("posts matched") as update:
            yield update
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    with Progress(
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%  {task.fields[posts]:,} posts"),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("match", total=size, posts=0)
        yield lambda count: bar.update(task, completed=source.tell(), posts=count)


def _open_input(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc


@main.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dihedral", is_flag=True, help="Also the PDQ of the 8 rotations and flips.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="Seconds one file may take to decode and hash.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=64 * 1024 * 1024,
    show_default=True,
    help="Larger files are refused unread.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=50_000_000,
    show_default=True,
    help="Images with more pixels are refused undecoded.",
)
def hash_files(
    files: tuple[Path, ...], dihedral: bool, timeout: float, max_bytes: int, max_pixels: int
) -> None:
    """SHA-256, MD5 and PDQ (with quality) of media files, as JSON lines.

    Images (JPEG, PNG, WebP, GIF's first frame) get PDQ; videos get vPDQ frame hashes when
    the vpdq package is installed. Files are decoded in a child process with the limits
    above; a file that cannot be hashed gets a line with its "error" and makes the exit
    status 1.
    """
    from postwatch.media import VPDQ_AVAILABLE, Hasher, HashOptions, MediaError  # noqa: PLC0415

    options = HashOptions(
        max_bytes=max_bytes, max_pixels=max_pixels, timeout=timeout, dihedral=dihedral
    )
    failed = videos = 0
    with Hasher(options) as hasher:
        for path in files:
            try:
                hashes = hasher.hash_file(path)
            except MediaError as exc:
                failed += 1
                line = {"file": str(path), "error": exc.reason, "message": str(exc)}
            else:
                videos += hashes.kind == "video"
                line = {"file": str(path), **hashes.to_json()}
            sys.stdout.buffer.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
            sys.stdout.buffer.flush()
    if videos and not VPDQ_AVAILABLE:
        click.echo("vpdq is not installed: videos got exact hashes only", err=True)
    if failed:
        click.echo(f"{failed} of {len(files)} files not hashed", err=True)
        sys.exit(1)


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
    from postwatch.streams.worker import run_worker  # noqa: PLC0415 - only the worker needs it

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


def _connector_options(command: Callable[..., None]) -> Callable[..., None]:
    """Options every long-running connector takes."""
    command = click.option(
        "--name",
        default=None,
        help="Instance name; keys the stored resume cursor (default: derived from the source).",
    )(command)
    command = click.option(
        "--fetch-media",
        is_flag=True,
        help="Download each post's images and fill their SHA-256, MD5 and PDQ hashes.",
    )(command)
    command = click.option(
        "--media-private",
        is_flag=True,
        help="With --fetch-media: also fetch from loopback and private addresses.",
    )(command)
    return click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=0,
        help="Serve Prometheus /metrics on this port (default 0: off).",
    )(command)


def _run_connector(
    ctx: _Context,
    connector: Connector,
    *,
    metrics_port: int,
    fetch_media: bool,
    media_private: bool,
) -> None:
    from postwatch.connectors.runtime import run_connector  # noqa: PLC0415

    async def run() -> None:
        if not fetch_media:
            await run_connector(ctx.settings, connector, metrics_port=metrics_port or None)
            return
        from postwatch.media.fetch import FetchOptions, MediaFetcher  # noqa: PLC0415

        options = FetchOptions(allow_private_addresses=media_private)
        async with MediaFetcher(options) as fetcher:
            await run_connector(
                ctx.settings, connector, metrics_port=metrics_port or None, enrich=fetcher.enrich
            )

    try:
        asyncio.run(run())
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc


@connect.command("mastodon")
@click.option("--url", required=True, help="The server, e.g. https://mastodon.social")
@click.option(
    "--stream",
    default="public",
    show_default=True,
    help="public, public:local, hashtag:TAG or list:ID.",
)
@click.option(
    "--token",
    default=None,
    envvar="POSTWATCH_MASTODON_TOKEN",
    show_envvar=True,
    help="Access token (needed for lists and some servers); better from the environment, "
    "where the process list does not show it.",
)
@click.option(
    "--streaming-url",
    default=None,
    help="Base URL of the streaming server when it is not --url.",
)
@click.option(
    "--domain",
    default=None,
    help="Domain in post and author ids (default: the host of --url).",
)
@click.option(
    "--rewind",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Seconds before the newest status seen that a backfill starts from.",
)
@_connector_options
@pass_context
def connect_mastodon(
    ctx: _Context,
    *,
    url: str,
    stream: str,
    token: str | None,
    streaming_url: str | None,
    domain: str | None,
    rewind: float,
    name: str | None,
    metrics_port: int,
    fetch_media: bool,
    media_private: bool,
) -> None:
    """Follow a Mastodon streaming timeline until stopped (SIGTERM or Ctrl-C)."""
    from postwatch.connectors.mastodon import MastodonConnector, StreamSpec  # noqa: PLC0415

    try:
        spec = StreamSpec.parse(stream)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--stream") from exc
    connector = MastodonConnector(
        url,
        spec,
        token=token,
        streaming_url=streaming_url,
        domain=domain,
        instance=name,
        rewind_seconds=rewind,
    )
    _run_connector(
        ctx,
        connector,
        metrics_port=metrics_port,
        fetch_media=fetch_media,
        media_private=media_private,
    )


@connect.command("bluesky")
@click.option(
    "--url",
    required=True,
    help="Jetstream subscribe URL, e.g. wss://jetstream2.us-east.bsky.network/subscribe",
)
@click.option("--did", "dids", multiple=True, help="Follow only this account (repeatable).")
@click.option(
    "--rewind",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds the cursor is rewound on every (re)connection.",
)
@click.option(
    "--image-cdn",
    default=None,
    help="Base URL of full-size images (default: Bluesky's CDN).",
)
@_connector_options
@pass_context
def connect_bluesky(
    ctx: _Context,
    *,
    url: str,
    dids: tuple[str, ...],
    rewind: float,
    image_cdn: str | None,
    name: str | None,
    metrics_port: int,
    fetch_media: bool,
    media_private: bool,
) -> None:
    """Follow Bluesky posts through Jetstream until stopped (SIGTERM or Ctrl-C)."""
    from postwatch.connectors.bluesky import BlueskyConnector  # noqa: PLC0415
    from postwatch.connectors.bluesky.adapter import CDN  # noqa: PLC0415

    bad = [did for did in dids if not did.startswith("did:")]
    if bad:
        raise click.BadParameter(f"not a DID: {', '.join(bad)}", param_hint="--did")
    connector = BlueskyConnector(
        url, dids=dids, instance=name, rewind_seconds=rewind, image_cdn=image_cdn or CDN
    )
    _run_connector(
        ctx,
        connector,
        metrics_port=metrics_port,
        fetch_media=fetch_media,
        media_private=media_private,
    )


@connect.command("rss")
@click.option(
    "--feeds",
    "feed_args",
    multiple=True,
    required=True,
    help="A feed URL, or a file listing feeds (OPML, or one URL per line); repeatable.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds between polls of a feed whose list gives no interval of its own.",
)
@_connector_options
@pass_context
def connect_rss(
    ctx: _Context,
    *,
    feed_args: tuple[str, ...],
    interval: float,
    name: str | None,
    metrics_port: int,
    fetch_media: bool,
    media_private: bool,
) -> None:
    """Poll RSS and Atom feeds until stopped (SIGTERM or Ctrl-C)."""
    from postwatch.connectors.rss import FeedListError, RssConnector, feeds_from  # noqa: PLC0415

    try:
        feeds = feeds_from(feed_args, interval)
    except FeedListError as exc:
        raise click.BadParameter(str(exc), param_hint="--feeds") from exc
    if not feeds:
        raise click.BadParameter("no feeds in the lists given", param_hint="--feeds")
    connector = RssConnector(feeds, instance=name or "rss")
    _run_connector(
        ctx,
        connector,
        metrics_port=metrics_port,
        fetch_media=fetch_media,
        media_private=media_private,
    )


@connect.command("webhook")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to serve POST /v1/posts on.",
)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    envvar="POSTWATCH_WEBHOOK_TOKENS",
    show_envvar=True,
    help="Accepted bearer token (repeat to rotate; in the environment, separated by spaces); "
    "better from the environment, where the process list does not show it.",
)
@click.option(
    "--hmac-secret",
    default=None,
    envvar="POSTWATCH_WEBHOOK_HMAC_SECRET",
    show_envvar=True,
    help="Shared secret of the HMAC-SHA256 signature; better from the environment, where the "
    "process list does not show it.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body accepted (413 above).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds a signed timestamp may differ from now.",
)
@_connector_options
@pass_context
def connect_webhook(
    ctx: _Context,
    *,
    listen: str,
    tokens: tuple[str, ...],
    hmac_secret: str | None,
    max_bytes: int,
    tolerance: float,
    name: str | None,
    metrics_port: int,
    fetch_media: bool,
    media_private: bool,
) -> None:
    """Accept pushed posts over HTTP until stopped (SIGTERM or Ctrl-C)."""
    from postwatch.connectors.webhook import Auth, WebhookConnector  # noqa: PLC0415

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter("expected HOST:PORT", param_hint="--listen")
    if not tokens and not hmac_secret:
        click.echo("warning: no --token and no --hmac-secret: anyone can push posts", err=True)
    secret = hmac_secret.encode("utf-8") if hmac_secret else None
    auth = Auth(tokens=tokens, secret=secret, tolerance=tolerance)
    connector = WebhookConnector(host, int(port), auth=auth, max_bytes=max_bytes, instance=name)
    _run_connector(
        ctx,
        connector,
        metrics_port=metrics_port,
        fetch_media=fetch_media,
        media_private=media_private,
    )


@connect.command("telegram")
@click.option(
    "--channels",
    "channel_args",
    multiple=True,
    required=True,
    help="Public channel username (name or @name); repeatable, or several separated by commas.",
)
@click.option(
    "--url",
    default="https://t.me",
    show_default=True,
    help="Where the channel previews (/s/CHANNEL) are served.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds between two polls of a channel (each spread by up to 20% at random).",
)
@_connector_options
@pass_context
def connect_telegram(
    ctx: _Context,
    *,
    channel_args: tuple[str, ...],
    url: str,
    interval: float,
    name: str | None,
    metrics_port: int,
    fetch_media: bool,
    media_private: bool,
) -> None:
    """Poll public Telegram channels through their web preview until stopped."""
    from postwatch.connectors.telegram import TelegramConnector  # noqa: PLC0415

    channels = [c for arg in channel_args for c in arg.split(",") if c.strip()]
    try:
        connector = TelegramConnector(
            channels, url=url, interval=interval, instance=name or "telegram"
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--channels") from exc
    _run_connector(
        ctx,
        connector,
        metrics_port=metrics_port,
        fetch_media=fetch_media,
        media_private=media_private,
    )


@connect.command("x")
@click.option(
    "--bearer-token",
    required=True,
    envvar="POSTWATCH_X_BEARER_TOKEN",
    show_envvar=True,
    help="The app's bearer token; better from the environment, where the process list does "
    "not show it.",
)
@click.option(
    "--url",
    default="https://api.x.com",
    show_default=True,
    help="Base URL of the X API.",
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML list of stream rules (a value, or value and tag) to put in place of the "
    "current ones; without it the rules are left as they are.",
)
@click.option(
    "--backfill-minutes",
    type=click.IntRange(0, 5),
    default=0,
    show_default=True,
    help="Minutes X replays after a reconnection (on the plans that offer it).",
)
@_connector_options
@pass_context
def connect_x(
    ctx: _Context,
    *,
    bearer_token: str,
    url: str,
    rules_path: Path | None,
    backfill_minutes: int,
    name: str | None,
    metrics_port: int,
    fetch_media: bool,
    media_private: bool,
) -> None:
    """Follow the X API v2 filtered stream until stopped (SIGTERM or Ctrl-C)."""
    from postwatch.connectors.x import RuleFileError, XConnector, read_rules  # noqa: PLC0415

    try:
        rules = None if rules_path is None else read_rules(rules_path)
    except RuleFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--rules") from exc
    connector = XConnector(
        bearer_token,
        url=url,
        rules=rules,
        backfill_minutes=backfill_minutes,
        instance=name or "x",
    )
    _run_connector(
        ctx,
        connector,
        metrics_port=metrics_port,
        fetch_media=fetch_media,
        media_private=media_private,
    )


@main.command()
@click.option("--posts", default=200_000, show_default=True, help="Posts in the workload.")
@click.option("--terms", default=10_000, show_default=True, help="Keyword phrases in the pack.")
@click.option("--hashes", default=1_000_000, show_default=True, help="PDQ hashes in the bank.")
@click.option(
    "--latency-seconds",
    default=30.0,
    show_default=True,
    help="How long to feed posts at half rate for the latency figures.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the workload and worker logs (default: a temporary folder).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the figures to this file as JSON.",
)
@pass_context
def bench(
    ctx: _Context,
    *,
    posts: int,
    terms: int,
    hashes: int,
    latency_seconds: float,
    workdir: Path | None,
    json_path: Path | None,
) -> None:
    """Measure throughput and latency on the configured broker, against its raw ceiling.

    Generates a workload (posts in several scripts, 10 % with media hashes, 0.5 % matching; a
    pack of TERMS phrases and a bank of HASHES PDQ hashes), then measures in one run: (a) a
    bare consume-and-produce loop with no parsing, (b) one worker, (c) two workers in one
    group, and the latency observed_at → alert at half of (b)'s rate. Uses fresh topics.
    """
    from postwatch.bench.report import bench_command  # noqa: PLC0415 - only bench needs it

    bench_command(
        ctx.settings,
        posts=posts,
        terms=terms,
        hashes=hashes,
        latency_s=latency_seconds,
        workdir=workdir,
        json_path=json_path,
    )


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
    prints each alert as it arrives. Ctrl-C or SIGTERM stops what it started.
    """
    from postwatch.demo import run_demo  # noqa: PLC0415

    settings = ctx.settings
    run_demo(settings, rate=rate, local_broker=settings.kafka_bootstrap == DEFAULT_BOOTSTRAP)


@main.group()
def alerts() -> None:
    """Watch alerts (terminal, web) and forward them to webhooks."""


_SEVERITY_CHOICE = click.Choice(["info", "low", "medium", "high", "critical"])


def _start(from_beginning: bool, since: str | None) -> Start:
    from postwatch.alerts.filters import BadSince, parse_since  # noqa: PLC0415

    if from_beginning and since:
        raise click.UsageError("--from-beginning and --since exclude each other")
    if from_beginning:
        return "beginning"
    try:
        return parse_since(since) if since else "end"
    except BadSince as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


@alerts.command("confirm")
@click.argument("alert_id")
@pass_context
def alerts_confirm(ctx: _Context, alert_id: str) -> None:
    """Confirm an alert: its post's text fingerprint and media PDQ hashes are learned by
    every worker, and later posts near them raise `reappearance` alerts."""
    from postwatch.alerts.confirm import NotFound, confirm  # noqa: PLC0415 - aiokafka

    try:
        entries = asyncio.run(confirm(ctx.settings, alert_id))
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    kinds = ", ".join(entry.kind for entry in entries) or "nothing (short text, no media)"
    click.echo(f"alert {alert_id}: learned {kinds}")


@alerts.command("tail")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest alert kept.")
@click.option("--since", help="Start that long ago (30s, 15m, 2h, 1d) or at a timestamp.")
@click.option("--min-severity", type=_SEVERITY_CHOICE, default="info", show_default=True)
@click.option("--rule", "rule_ids", multiple=True, help="Only this rule id (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Alert v1 JSON lines, e.g. for jq.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many alerts.")
@pass_context
def alerts_tail(
    ctx: _Context,
    *,
    from_beginning: bool,
    since: str | None,
    min_severity: str,
    rule_ids: tuple[str, ...],
    sources: tuple[str, ...],
    as_json: bool,
    limit: int | None,
) -> None:
    """Show alerts as they arrive (from now unless told otherwise), until Ctrl-C."""
    from postwatch.alerts import AlertsError  # noqa: PLC0415
    from postwatch.alerts.filters import AlertFilter  # noqa: PLC0415
    from postwatch.alerts.running import run_until_stopped  # noqa: PLC0415
    from postwatch.alerts.tail import tail  # noqa: PLC0415

    keep = AlertFilter(Severity[min_severity.upper()], frozenset(rule_ids), frozenset(sources))
    start = _start(from_beginning, since)
    try:
        run_until_stopped(tail(ctx.settings, start, keep, as_json=as_json, limit=limit))
    except AlertsError as exc:
        raise click.ClickException(str(exc)) from exc


@alerts.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--from-beginning", is_flag=True, help="Load every alert kept, not the last day.")
@click.option("--since", default="24h", show_default=True, help="Load alerts from then on.")
@click.option("--backlog", type=click.IntRange(min=1), default=500, show_default=True)
@click.option(
    "--secure-cookie",
    is_flag=True,
    help="Mark the token cookie Secure always (served over HTTPS by a proxy, e.g.).",
)
@click.option(
    "--trust-proxy",
    is_flag=True,
    help="Believe the proxy in front: X-Forwarded-Proto: https makes the cookie Secure. "
    "Only behind a proxy that sets that header itself.",
)
@pass_context
def alerts_serve(
    ctx: _Context,
    *,
    host: str,
    port: int,
    from_beginning: bool,
    since: str,
    backlog: int,
    secure_cookie: bool,
    trust_proxy: bool,
) -> None:
    """Serve the live web alert feed (read-only; needs POSTWATCH_ALERTS_TOKEN).

    Open http://HOST:PORT/?token=TOKEN in a browser; the page shows the last BACKLOG alerts
    and each new one as it arrives, with filters by severity, rule and source. The token is
    taken from the environment only: on the command line, the process list would show it.
    Served over HTTPS (by a proxy in front), give --secure-cookie or --trust-proxy.
    """
    from postwatch.alerts.serve import run_server  # noqa: PLC0415

    settings = ctx.settings
    if not settings.alerts_token:
        raise click.UsageError("set POSTWATCH_ALERTS_TOKEN: the feed is only served with a token")
    start = _start(from_beginning, None if from_beginning else since)
    run_server(
        settings,
        settings.alerts_token,
        start,
        host=host,
        port=port,
        backlog=backlog,
        secure_cookie=secure_cookie,
        trust_proxy=trust_proxy,
    )


@alerts.command("forward")
@click.option(
    "--to",
    "specs",
    multiple=True,
    help="KIND:MIN_SEVERITY:URL, KIND json or slack (repeatable); default POSTWATCH_FORWARD_TO.",
)
@click.option("--attempts", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--backoff", type=click.FloatRange(min=0), default=0.5, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0)
@click.option("--from-beginning", is_flag=True, help="A new forwarder starts at the oldest alert.")
@click.option("--include-shadow", is_flag=True, help="Forward alerts of shadow rules too.")
@pass_context
def alerts_forward(
    ctx: _Context,
    *,
    specs: tuple[str, ...],
    attempts: int,
    backoff: float,
    timeout: float,
    from_beginning: bool,
    include_shadow: bool,
) -> None:
    """Deliver alerts to webhooks; failed deliveries go to the dead-letter topic.

    Each alert goes to every destination whose minimum severity it reaches, retried up to
    ATTEMPTS times with exponential backoff from BACKOFF seconds. The forwarder resumes
    where it stopped (consumer group <prefix>-forward); a new one starts with the next alert.
    """
    from postwatch.alerts import BadDestination  # noqa: PLC0415
    from postwatch.alerts.forward import Destination, RetryPolicy, forward  # noqa: PLC0415
    from postwatch.alerts.running import run_until_stopped  # noqa: PLC0415

    settings = ctx.settings
    try:
        destinations = [Destination.parse(spec) for spec in specs or settings.forward_to]
    except BadDestination as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from exc
    if not destinations:
        raise click.UsageError("no destinations: pass --to KIND:MIN_SEVERITY:URL")
    policy = RetryPolicy(attempts=attempts, backoff_s=backoff, timeout_s=timeout)
    start: Start = "beginning" if from_beginning else "end"
    run_until_stopped(forward(settings, destinations, policy, start, include_shadow=include_shadow))
