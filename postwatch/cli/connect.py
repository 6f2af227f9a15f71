"""`postwatch connect`: `jsonl` replays a file; every connector of the registry runs under its
name, with the options it declares and those every connector takes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from postwatch.cli.shared import (
    METRICS_PORT,
    CommandContext,
    open_input,
    pass_context,
    positive_option,
    posts_input,
)
from postwatch.progress import progress_counter

if TYPE_CHECKING:
    from postwatch.connectors.base import Connector
    from postwatch.connectors.options import Offered
    from postwatch.connectors.registry import Registered

__all__ = ["connect"]

_RUNS = "Runs until stopped (SIGTERM or Ctrl-C)."
"""Ends the help of every connector: they all run until stopped."""
_PREFER_ENVIRONMENT = "; better from the environment, where the process list does not show it."
"""Ends the help of a secret: a value on the command line is in the process list."""


def _common() -> list[click.Parameter]:
    """The options every connector takes, after its own."""
    return [
        click.Option(["--metrics-port"], **METRICS_PORT),
        click.Option(
            ["--name"],
            default=None,
            help="Instance name; keys the stored resume cursor (default: derived from the source).",
        ),
    ]


class _Connect(click.Group):
    """`connect` with a command for each registered connector, made when first asked for:
    the registry imports every connector's client libraries, which other commands need not
    wait for."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._registered: dict[str, click.Command] | None = None

    def registered(self) -> dict[str, click.Command]:
        if self._registered is None:
            from postwatch.connectors.registry import CONNECTORS  # noqa: PLC0415 - see above

            self._registered = {name: _command(name, cls) for name, cls in CONNECTORS.items()}
        return self._registered

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.registered()])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self.registered().get(cmd_name)


@click.group(cls=_Connect)
def connect() -> None:
    """Run a connector that produces posts to the posts topic."""


@connect.command("jsonl")
@posts_input
@positive_option("--rate", "Posts per second (default: as fast as the broker takes them).", None)
@pass_context
def connect_jsonl(ctx: CommandContext, input_path: Path, rate: float | None) -> None:
    """Replay a file of Post v1 lines into the posts topic, then exit."""
    from postwatch.connectors.jsonl import run_jsonl  # noqa: PLC0415

    source = open_input(input_path)
    with source, progress_counter("posts produced") as progress:
        report = asyncio.run(run_jsonl(ctx.settings, source, rate=rate, progress=progress))
    click.echo(f"{report.produced} posts produced, {report.skipped} lines skipped", err=True)


def _command(source: str, cls: type[Registered]) -> click.Command:
    """`connect SOURCE`: the connector's options, then the common ones; builds the connector
    from their values and runs it."""
    from postwatch.connectors.options import BadOption, Given, offered, summary_of  # noqa: PLC0415

    @pass_context
    def run(
        ctx: CommandContext,
        /,
        *,
        name: str | None,
        metrics_port: int,
        **values: Any,
    ) -> None:
        def warn(message: str) -> None:
            click.echo(f"warning: {message}", err=True)

        try:
            connector = cls.from_options(Given(cls.options(**values), name, warn))
        except BadOption as exc:
            raise click.BadParameter(str(exc), param_hint=exc.flag) from exc
        _run_connector(ctx, connector, metrics_port=metrics_port)

    params = [_option(option) for option in offered(cls.options)] + _common()
    summary = summary_of(cls.options)
    return click.Command(
        source, callback=run, params=params, help=f"{summary}\n\n{_RUNS}", short_help=summary
    )


def _option(option: Offered) -> click.Option:
    about = option.about
    return click.Option(
        [option.flag],
        type=_type(option),
        default=option.default,
        show_default=option.default is not None,
        required=option.required,
        multiple=option.multiple,
        envvar=about.envvar,
        show_envvar=about.envvar is not None,
        help=about.help + (_PREFER_ENVIRONMENT if about.secret else ""),
    )


def _type(option: Offered) -> click.ParamType:
    low, high = option.about.minimum, option.about.maximum
    if option.kind is Path:
        return click.Path(exists=True, dir_okay=False, path_type=Path)
    if option.kind is int and (low is not None or high is not None):
        return click.IntRange(
            None if low is None else int(low), None if high is None else int(high)
        )
    if option.kind is float and (low is not None or high is not None):
        return click.FloatRange(low, high)
    return click.types.convert_type(option.kind)


def _run_connector(ctx: CommandContext, connector: Connector, *, metrics_port: int) -> None:
    from postwatch.connectors.base import ConnectorError  # noqa: PLC0415
    from postwatch.connectors.runtime import run_connector  # noqa: PLC0415

    try:
        asyncio.run(run_connector(ctx.settings, connector, metrics_port=metrics_port or None))
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
