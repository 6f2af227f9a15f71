"""`postwatch match` (a file of posts through the rules, offline) and `postwatch hash` (the
hashes of media files)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO

import click
import orjson

from postwatch.cli.shared import (
    CommandContext,
    compiled,
    count_option,
    fetch_options,
    media_private,
    open_input,
    packs_option,
    pass_context,
    path_option,
    positive_option,
    posts_input,
    text_errors,
)
from postwatch.console import printable
from postwatch.progress import progress_counter
from postwatch.rules.alerts import encode
from postwatch.rules.detectors.correlation import Correlator, pack_configs
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.rules.language.model import CorrelationConfig
from postwatch.rules.offline import FileMatch, RuleHits
from postwatch.settings import Settings

__all__ = ["hash_files", "match"]

_MATCH_BATCH = 1024
"""Posts evaluated together (`Engine.evaluate_many`); the progress display moves by as many."""


@click.command()
@packs_option("Rule pack file (repeat for several).", required=True)
@posts_input
@path_option("--output", "Write alerts here instead of standard output.")
@click.option(
    "--fetch-media",
    is_flag=True,
    help="Download each post's images and fill their hashes, local features and text first.",
)
@media_private
@click.option(
    "--summary",
    is_flag=True,
    help="Print hits per rule (count, share of posts, sample post ids) on standard error.",
)
@pass_context
def match(
    ctx: CommandContext,
    *,
    packs: tuple[Path, ...],
    input_path: Path,
    output: Path | None,
    summary: bool,
    fetch_media: bool,
    media_private: bool,
) -> None:
    """Offline: evaluate a file of posts with the same engine as the workers.

    Mirror detection runs too, in file order: posts of `learn: true` rules teach their
    fingerprints, later posts near them raise `reappearance` alerts, look-alikes of watched
    accounts `lookalike_account`, and authors with many alerts `escalation` alerts; then
    those alerts are correlated: several accounts re-posting one original raise a `campaign`
    alert, an account that keeps re-posting (or imitates) another a `successor` alert.

    With --fetch-media, the images of posts that name them by URL are downloaded, hashed and
    read first, as `postwatch enrich` does it (PDQ, local features, the text in them), so
    that a pack can be tried on a file of posts as they come from a platform.

    Alerts are written as JSON lines; lines that are not valid Post v1 are reported on
    standard error with their line number and skipped. On a terminal a progress bar shows
    how much of the file is done; at the end, standard error has the counts and how long
    the posts took once the packs were compiled.
    """
    engine = compiled(packs, ctx.settings)
    tracker = Tracker(
        MirrorConfig.from_settings(ctx.settings),
        [account for pack in engine.packs for account in pack.accounts],
    )
    config = CorrelationConfig.from_settings(ctx.settings)
    run = FileMatch(engine, tracker, Correlator(config, pack_configs(config, engine.packs)))
    source = open_input(input_path)
    started = time.perf_counter()
    with (
        source,
        _open_output(output, input_path) as write,
        _match_progress(source) as progress,
        _media(ctx.settings, fetch=fetch_media, private=media_private) as enriched,
    ):
        while chunk := list(islice(source, _MATCH_BATCH)):
            alerts, skipped = run.feed(enriched(chunk), datetime.now(UTC))
            for number, invalid in skipped:
                click.echo(printable(f"{input_path}:{number}: skipped: {invalid}"), err=True)
            for alert in alerts:  # a terminal sees escapes, not the controls of a post
                line = encode(alert)
                write((line if output else printable(line.decode()).encode()) + b"\n")
            progress(run.posts)
    elapsed = time.perf_counter() - started
    by_kind = "".join(f", {n} {kind}" for kind, n in sorted(run.kinds.items()) if kind != "rule")
    click.echo(
        f"{run.posts} posts, {run.kinds.total()} alerts{by_kind}, {run.skipped} skipped lines "
        f"in {elapsed:.2f} s after start-up ({run.posts / max(elapsed, 1e-9):,.0f} posts/s)",
        err=True,
    )
    if summary:
        _echo_summary(run.hits())


@contextmanager
def _media(
    settings: Settings, *, fetch: bool, private: bool
) -> Iterator[Callable[[list[bytes]], list[bytes]]]:
    """What turns a chunk of lines into the same lines with their posts' media hashed (the
    lines themselves, without `fetch`); the fetcher's counts go to standard error at the
    end. A line that is no JSON object is left as it is, for the matching to report."""
    if not fetch:
        yield lambda chunk: chunk
        return
    from postwatch.media.fetch import MediaFetcher  # noqa: PLC0415

    fetcher = MediaFetcher(fetch_options(settings, private=private))

    async def one(line: bytes) -> bytes:
        try:
            post = orjson.loads(line)
        except orjson.JSONDecodeError:
            return line
        if not isinstance(post, dict):
            return line
        enriched = await fetcher.enrich(post)
        try:
            return line if enriched is post else orjson.dumps(enriched)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes: as it was
            return line

    async def chunk_of(lines: list[bytes]) -> list[bytes]:
        return list(await asyncio.gather(*map(one, lines)))

    with asyncio.Runner() as runner:
        with text_errors():
            runner.run(fetcher.__aenter__())
        try:
            yield lambda lines: runner.run(chunk_of(lines))
        finally:
            runner.run(fetcher.__aexit__(None, None, None))
    stats = fetcher.stats
    failed = "".join(f", {n} {reason}" for reason, n in sorted(stats.failed.items()))
    click.echo(f"media: {stats.fetched} fetched, {stats.failed.total()} failed{failed}", err=True)


def _echo_summary(hits: list[RuleHits]) -> None:
    """The hits of each rule as a table on standard error."""
    width = max((len(rule.rule) for rule in hits), default=4)
    click.echo(f"{'rule':{width}}  {'hits':>8}  {'share':>8}  sample post ids", err=True)
    for rule in hits:
        share = "-" if rule.share is None else f"{rule.share:.3%}"
        samples = ", ".join(rule.samples)
        click.echo(
            printable(f"{rule.rule:{width}}  {rule.hits:>8}  {share:>8}  {samples}"), err=True
        )


@contextmanager
def _open_output(path: Path | None, source: Path) -> Iterator[Callable[[bytes], object]]:
    """What writes alert lines: to standard output, or to the file `path`. A file that
    cannot be written, or that is the input itself (it would be emptied before it is
    read), is refused with its reason."""
    if path is None:
        yield sys.stdout.buffer.write
        return
    if str(source) != "-" and _same_file(path, source):
        raise click.ClickException(f"--output {path} is the input file")
    try:
        out = path.open("wb")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc

    def write(line: bytes) -> int:
        try:
            return out.write(line)
        except OSError as exc:
            raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc

    try:
        yield write
    finally:
        try:
            out.close()
        except OSError as exc:  # what was left in the buffer could not be written
            raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them is not there (yet)
        return False


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


@click.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dihedral", is_flag=True, help="Also the PDQ of the 8 rotations and flips.")
@click.option(
    "--features",
    is_flag=True,
    help="Also the local features (base64, as a post's media item carries them).",
)
@click.option(
    "--text",
    is_flag=True,
    help="Also the text read in images (OCR in the languages of POSTWATCH_OCR_LANGUAGES).",
)
@positive_option("--timeout", "Seconds one file may take to decode and hash.", 20.0)
@count_option("--max-bytes", "Larger files are refused unread.", 64 * 1024 * 1024)
@count_option(
    "--max-pixels",
    "Images with more pixels are refused undecoded (the platforms serve 4096 a side).",
    4096 * 4096,
)
@pass_context
def hash_files(
    ctx: CommandContext,
    files: tuple[Path, ...],
    *,
    dihedral: bool,
    features: bool,
    text: bool,
    timeout: float,
    max_bytes: int,
    max_pixels: int,
) -> None:
    """SHA-256, MD5 and PDQ (with quality) of media files, as JSON lines.

    Images (JPEG, PNG, WebP, GIF's first frame) get PDQ; videos get vPDQ frame hashes when
    the vpdq package is installed. Files are decoded in a child process with the limits
    above; a file that cannot be hashed gets a line with its "error" and makes the exit
    status 1.
    """
    from postwatch.media import VPDQ_AVAILABLE, Hasher, HashOptions, MediaError  # noqa: PLC0415

    options = HashOptions(
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        timeout=timeout,
        dihedral=dihedral,
        features=features,
        ocr=ctx.settings.ocr_languages if text else (),
    )
    failed = videos = 0
    with text_errors():
        hasher = Hasher(options)
    with hasher:
        for path in files:
            name = _utf8(str(path))
            try:
                hashes = hasher.hash_file(path)
            except MediaError as exc:
                failed += 1
                line = {"file": name, "error": exc.reason, "message": _utf8(str(exc))}
            else:
                videos += hashes.kind == "video"
                line = {"file": name, **orjson.loads(hashes.encode())}
            sys.stdout.buffer.write(printable(orjson.dumps(line).decode()).encode() + b"\n")
            sys.stdout.buffer.flush()
    if videos and not VPDQ_AVAILABLE:
        click.echo("vpdq is not installed: videos got exact hashes only", err=True)
    if failed:
        click.echo(f"{failed} of {len(files)} files not hashed", err=True)
        sys.exit(1)


def _utf8(text: str) -> str:
    """`text` with what UTF-8 cannot hold (the undecodable bytes of a file name, which
    Python keeps as lone surrogates) written as backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
