"""`postwatch rules stats`: rule quality from the alerts and decisions on their topics."""

from __future__ import annotations

import click

from postwatch.cli.shared import CommandContext, pass_context
from postwatch.cli.store import rebuilt_store, since_flag, since_option

__all__ = ["rules_stats"]

_HEADER = ("RULE / BANK ENTRY", "ALERTS", "PER DAY", "DECIDED", "PRECISION", "CONFIRM", "FP", "ESC")


@click.command("stats")
@since_flag
@click.option("--json", "as_json", is_flag=True, help="One JSON object a rule or bank entry.")
@pass_context
def rules_stats(ctx: CommandContext, since: str | None, as_json: bool) -> None:
    """How each rule does, and each bank entry (hash) under it: alerts, alerts per day,
    the share decided (confirmed or found false positives) and precision (confirmed ÷
    decided), with the escalations beside.

    Counted from the latest verdict of each alert (the decisions topic), over the alerts
    on the alerts topic (since SINCE), summaries aside. Per day divides by the days from
    SINCE (or the first alert) to the latest alert, one at least.
    """
    import orjson  # noqa: PLC0415

    from postwatch.console import printable  # noqa: PLC0415

    moment = since_option(since)
    store = rebuilt_store(ctx.settings)
    try:
        stats = store.rule_stats(moment)
    finally:
        store.close()
    if as_json:
        for row in stats:
            document = {
                "rule": row.rule,
                "entry": row.entry,
                "alerts": row.alerts,
                "per_day": row.per_day,
                "decided": row.decided,
                "decided_share": row.decided_share,
                "precision": row.precision,
                "confirmed": row.confirmed,
                "false_positives": row.false_positives,
                "escalated": row.escalated,
            }
            click.echo(orjson.dumps(document))
        return
    if not stats:
        click.echo("no alerts" + (f" since {since}" if since else ""), err=True)
        return
    rows = [_HEADER] + [
        (
            f"  {row.entry}" if row.entry else row.rule,
            str(row.alerts),
            f"{row.per_day:.2f}",
            f"{row.decided_share:.0%}",
            "-" if row.precision is None else f"{row.precision:.0%}",
            str(row.confirmed),
            str(row.false_positives),
            str(row.escalated),
        )
        for row in stats
    ]
    widths = [max(len(line[i]) for line in rows) for i in range(len(_HEADER))]
    for line in rows:
        cells = [line[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        click.echo(printable("  ".join(cells).rstrip()))
