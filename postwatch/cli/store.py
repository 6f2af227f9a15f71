"""What the commands on the alert store share (`alerts search`, `rules stats`, `cases
export`): the store rebuilt from the topics with progress on standard error, `--since`, and
an alert on one line. Imported when the command line starts: what is slow to import is
imported when a command runs."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

import click

from postwatch.console import printable
from postwatch.settings import Settings

if TYPE_CHECKING:
    from postwatch.alerts.store import AlertStore, Stored

__all__ = ["rebuilt_store", "since_flag", "since_option", "stored_line"]

since_flag = click.option(
    "--since", help="Only alerts raised since then (30s, 15m, 2h, 1d, a timestamp)."
)
"""The `--since` of the commands on the alert store (`since_option` reads it)."""


def rebuilt_store(settings: Settings) -> AlertStore:
    """The alert store holding what the alerts and decisions topics hold now; a count of
    the records read on standard error while it fills. A missing alerts topic ends the
    command with its error."""
    from postwatch.alerts import AlertsError  # noqa: PLC0415
    from postwatch.alerts.store import rebuilt  # noqa: PLC0415 - aiokafka
    from postwatch.progress import progress_counter  # noqa: PLC0415 - rich

    with progress_counter("alerts and decisions read") as progress:
        try:
            return asyncio.run(rebuilt(settings, progress))
        except AlertsError as exc:
            raise click.ClickException(str(exc)) from exc


def since_option(text: str | None) -> datetime | None:
    """The moment a `--since` names (a duration back from now, or a timestamp)."""
    from postwatch.alerts.filters import BadSince, parse_since  # noqa: PLC0415

    if text is None:
        return None
    try:
        return parse_since(text)
    except BadSince as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def stored_line(stored: Stored) -> str:
    """An alert on one line: when, severity, rule, verdict, author, post URL, alert id."""
    alert = stored.alert
    post = alert.post
    fields = (
        alert.detected_at,
        f"{alert.rule.severity:<8}",
        alert.rule.id,
        f"{stored.verdict or 'undecided':<14}",
        post.author.id + (f" (@{post.author.handle})" if post.author.handle else ""),
        post.url or post.id,
        alert.alert_id,
    )
    return printable("  ".join(fields))
