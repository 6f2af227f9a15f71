"""`postwatch alerts tail`: the alerts topic as a live terminal feed, or as JSON lines; an
alert rendered for a terminal (also `postwatch demo`'s)."""

from __future__ import annotations

import sys
from typing import IO, Any

import orjson
from rich.console import Console
from rich.text import Text

from postwatch.alerts.feed import Start, read_alerts
from postwatch.alerts.filters import AlertFilter, evidence, section
from postwatch.console import printable
from postwatch.settings import Settings

__all__ = ["render_alert", "render_feed_entry", "tail"]

_SEVERITY_STYLES = {
    "info": "dim",
    "low": "cyan",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold white on red",
}


def _shown(value: object) -> str:
    return printable(str(value))


def render_alert(alert: dict[str, Any]) -> Text:
    """One alert as a few lines of styled text; the matched words in the excerpt are bold.
    Every value is shown `printable`; parts in shapes Alert v1 does not have are shown as
    far as they go."""
    rule, post = section(alert, "rule"), section(alert, "post")
    author = section(post, "author")
    pieces = evidence(alert)
    severity = _shown(rule.get("severity", "info"))
    line = Text()
    line.append(f" {severity.upper():8} ", style=_SEVERITY_STYLES.get(severity, ""))
    if alert.get("shadow"):
        line.append(" shadow ", style="reverse")
    line.append(f" {_shown(rule.get('id', '?'))} ", style="bold")
    line.append(_shown(rule.get("title", "")))
    line.append(f"  @{_shown(author.get('handle') or author.get('id', '?'))}", style="magenta")
    line.append(f" ({_shown(post.get('source', '?'))})", style="dim")
    excerpt = Text("   " + printable(str(post.get("excerpt", "")).replace("\n", " ")))
    for piece in pieces:
        matched = piece.get("matched")
        if piece.get("field") == "text" and isinstance(matched, str) and matched:
            excerpt.highlight_words([printable(matched)], style="bold underline yellow")
    line.append("\n")
    line.append_text(excerpt)
    kinds = ", ".join(
        f"{e.get('type')}: {e.get('value')}"
        + (f" ({e['matched']})" if e.get("type") == "alert" and e.get("matched") else "")
        for e in pieces
    )
    line.append(f"\n   evidence: {printable(kinds)}", style="dim")
    if post.get("url"):
        line.append(f"\n   {_shown(post['url'])}", style="blue underline")
    return line


def render_feed_entry(alert: dict[str, Any]) -> Text:
    """An alert as `render_alert` shows it; a summary adds how many repeats it collapsed, or
    how many posts joined the campaign or succession it updates; a `rule_flood` alert how
    many alerts its rule raised, and how to give the rule back."""
    text = render_alert(alert)
    if alert.get("kind") == "rule_flood":
        rule_id = _shown(section(alert, "rule").get("id", "?"))
        text.append(
            f"\n   flood: {_shown(alert.get('flood_count', '?'))} alerts in a minute "
            f"(limit {_shown(alert.get('flood_limit', '?'))}): shadow on every worker until "
            f"`postwatch rules restore {rule_id}`",
            style="bold magenta",
        )
    if alert.get("kind") == "summary":
        listed = alert.get("suppressed_post_ids")
        ids = [_shown(i) for i in listed] if isinstance(listed, list) else []
        count = alert.get("suppressed_count")
        count = count if isinstance(count, int) else len(ids)
        more = f" and {count - len(ids)} more" if count > len(ids) else ""
        tags = section(alert, "rule").get("tags")
        joined = isinstance(tags, list) and bool({"campaign", "successor"} & set(tags))
        what = "post(s) joined since" if joined else "repeat(s)"
        verb = "" if joined else "collapsed "
        text.append(f"\n   {verb}{count} {what}: {', '.join(ids)}{more}", style="cyan")
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
