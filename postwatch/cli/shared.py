"""What the command modules share: the settings, read when a command first needs them; rule
packs compiled, or their problems printed; input files opened, or a clean error.

A module of its own because `postwatch.cli` imports every command module to register it."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from postwatch.console import printable
from postwatch.logs import configure_logging
from postwatch.rules import Engine, PackError
from postwatch.rules.language.selftest import compile_tested
from postwatch.rules.matching.cache import compile_cache
from postwatch.settings import Settings, SettingsError

if TYPE_CHECKING:
    from postwatch.media.fetch import FetchOptions

__all__ = [
    "METRICS_PORT",
    "CommandContext",
    "compiled",
    "count_option",
    "echo_problems",
    "fetch_options",
    "media_private",
    "open_input",
    "pack_files",
    "packs_option",
    "pass_context",
    "path_option",
    "positive_option",
    "posts_input",
    "refused",
    "text_errors",
]


class CommandContext:
    """Carried from the group to its commands: the settings, read from the environment (and
    the file it names) the first time a command asks, so that commands which need none, and
    `--help`, work with broken settings."""

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


pass_context = click.make_pass_decorator(CommandContext, ensure=True)


def echo_problems(exc: PackError, *, err: bool = True) -> None:
    """Print every problem of packs that failed, one a line (file:line: rule-id: message)."""
    for problem in exc.problems:
        click.echo(printable(str(problem)), err=err)


def refused(exc: PackError) -> click.ClickException:
    """Print the problems of packs that do not load on standard error; returns the error
    that ends the command with exit status 1."""
    echo_problems(exc)
    return click.ClickException(f"{len(exc.problems)} problem(s) in rule packs")


def compiled(packs: tuple[Path, ...], settings: Settings) -> Engine:
    """The engine of packs that load and pass their own tests (compiled, or taken from the
    settings' compile cache); otherwise their problems on standard error, and exit status 1."""
    try:
        return compile_tested(packs, compile_cache(settings.cache_dir))
    except PackError as exc:
        raise refused(exc) from exc


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

pack_files = click.argument("packs", nargs=-1, required=True, type=click.Path(path_type=Path))
"""The PACKS arguments of the commands that work on pack files."""


def packs_option(help_text: str, *, required: bool = False) -> _Decorator:
    """`--rules PACK` (repeatable) of the commands that run packs."""
    path = click.Path(path_type=Path)
    return click.option(
        "--rules", "packs", multiple=True, required=required, type=path, help=help_text
    )


def path_option(flag: str, help_text: str, name: str | None = None) -> _Decorator:
    """An option naming a file or folder; None when it is not given."""
    names = (flag, name) if name else (flag,)
    return click.option(*names, type=click.Path(path_type=Path), default=None, help=help_text)


def count_option(flag: str, help_text: str, default: int, maximum: int = 1 << 40) -> _Decorator:
    """An option taking a whole number from 1 to `maximum`: a count, a size in bytes."""
    kind = click.IntRange(1, maximum)
    return click.option(flag, type=kind, default=default, show_default=True, help=help_text)


class _Positive(click.FloatRange):
    """A number above zero and at most a million: NaN, which every range lets through (it
    compares false with anything), is refused too."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True, max=1e6)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


def positive_option(flag: str, help_text: str, default: float | None) -> _Decorator:
    """An option taking a number above zero, at most a million (seconds, posts per second)."""
    return click.option(
        flag, type=_Positive(), default=default, show_default=default is not None, help=help_text
    )


posts_input = click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path, allow_dash=True),
    help="Post v1 JSON lines; - for standard input.",
)
"""The `--input` of the commands that read a file of posts (`open_input` opens it)."""


METRICS_PORT: dict[str, Any] = {
    "type": click.IntRange(0, 65535),
    "default": 0,
    "help": "Serve Prometheus /metrics on this port (default 0: off).",
}
"""The `--metrics-port` of the processes that serve metrics on request (connectors, enrich)."""

media_private = click.option(
    "--media-private",
    is_flag=True,
    help="Also fetch media from loopback and private addresses (tests, closed networks).",
)
"""The `--media-private` of the commands that fetch posts' media (`fetch_options`)."""


def fetch_options(settings: Settings, *, private: bool, video: bool = False) -> FetchOptions:
    """The options of the media fetcher of the commands that fetch posts' media; `video`
    fetches videos too (their keyframes: vpdq, the `video` extra)."""
    from postwatch.media import VPDQ_AVAILABLE, HashOptions  # noqa: PLC0415 - numpy, Pillow
    from postwatch.media.fetch import FetchOptions  # noqa: PLC0415

    if video and not VPDQ_AVAILABLE:
        click.echo("warning: vpdq is not installed: videos get exact hashes only", err=True)
    hashing = HashOptions(ocr=settings.ocr_languages)
    kinds = frozenset({"image", "video"} if video else {"image"})
    return FetchOptions(allow_private_addresses=private, hash_options=hashing, kinds=kinds)


@contextmanager
def text_errors() -> Iterator[None]:
    """Text in images that cannot be read (Tesseract or its data missing) as the command's
    error, saying how to do without."""
    from postwatch.media import OcrUnavailable  # noqa: PLC0415

    try:
        yield
    except OcrUnavailable as exc:
        message = f"{exc}; or set POSTWATCH_OCR_LANGUAGES= (empty) to read no text in images"
        raise click.ClickException(message) from exc


def open_input(path: Path) -> IO[bytes]:
    """The file to read, or standard input for `-`."""
    if str(path) == "-":
        return sys.stdin.buffer
    try:
        return path.open("rb")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
