"""`postwatch alerts tail`: the alerts topic as a live terminal feed, or as JSON lines."""

from __future__ import annotations

import sys
from typing import IO, Any

import orjson
from rich.console import Console
from rich.text import Text

from postwatch.alerts.feed import Start, read_alerts
from postwatch.alerts.filters import AlertFilter
from postwatch.console import printable, render_alert
from postwatch.settings import Settings

__all__ = ["render_feed_entry", "tail"]


def render_feed_entry(alert: dict[str, Any]) -> Text:
    """An alert as `render_alert` shows it; a summary adds how many repeats it collapsed."""
    text = render_alert(alert)
    if alert.get("kind") == "summary":
        listed = alert.get("suppressed_post_ids")
        ids = [printable(str(i)) for i in listed] if isinstance(listed, list) else []
        count = alert.get("suppressed_count")
        count = count if isinstance(count, int) else len(ids)
        more = f" and {count - len(ids)} more" if count > len(ids) else ""
        text.append(f"\n   collapsed {count} repeat(s): {', '.join(ids)}{more}", style="cyan")
    return text


async def tail(
    settings: Settings,
    start: Start,
    keep: AlertFilter,
    *,
    as_json: bool = False,
    limit: int | None = None,
    out: IO[bytes] | None = None,
    console: Console | None = None,
) -> int:
    """Show alerts that pass `keep` as they arrive; returns after `limit` alerts (never
    without one). JSON lines are the records as compact JSON, one per line (the bytes a
    worker produced), with every character a terminal would act on written as its JSON
    escape (`printable`)."""
    shown = 0
    stdout = out or sys.stdout.buffer
    screen = console or Console(highlight=False)
    async with read_alerts(settings, start) as (_, records):
        async for record in records:
            if not keep(record.alert):
                continue
            if as_json:
                stdout.write(printable(orjson.dumps(record.alert).decode()).encode() + b"\n")
                stdout.flush()
            else:
                screen.print(render_feed_entry(record.alert))
            shown += 1
            if limit is not None and shown >= limit:
                break
    return shown
