"""`postwatch cases`: evidence bundles for takedown requests, from the alerts on the topics."""

from __future__ import annotations

from pathlib import Path

import click

from postwatch.cli.shared import CommandContext, pass_context
from postwatch.cli.store import rebuilt_store, since_flag, since_option

__all__ = ["cases"]


@click.group()
def cases() -> None:
    """Evidence bundles of accounts' alerts, for takedown requests."""


@cases.command("export")
@click.option(
    "--author", "authors", multiple=True, required=True, help="An author id (repeatable)."
)
@since_flag
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the bundle to; must not exist or be empty.",
)
@pass_context
def cases_export(
    ctx: CommandContext, authors: tuple[str, ...], since: str | None, out: Path
) -> None:
    """Write the evidence bundle of these accounts' alerts: the accounts, each alert with its
    rule, time, post URL, excerpt and evidence, the decisions on it with their reviewers,
    and the media hashes, as case.json and CSV tables, with manifest.json holding each
    file's SHA-256. Only what the alerts and decisions on the topics hold goes in."""
    from postwatch.alerts.cases import CaseError, export_case  # noqa: PLC0415

    moment = since_option(since)
    if out.exists() and any(out.iterdir()):
        raise click.UsageError(f"--out {out} is not empty: give a new folder")
    store = rebuilt_store(ctx.settings)
    try:
        exported = export_case(store, authors, out, moment)
    except CaseError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    for author in exported.missing:
        click.echo(f"warning: no alerts on posts of {author}", err=True)
    click.echo(
        f"{exported.alerts} alert(s) of {exported.accounts} account(s) written to {out}: "
        + ", ".join([*exported.digests, "manifest.json"])
    )
