"""Alerts rendered for a terminal: severity colour, rule, author, excerpt, link."""

from __future__ import annotations

from typing import Any

from rich.text import Text

__all__ = ["SEVERITY_STYLES", "render_alert"]

SEVERITY_STYLES = {
    "info": "dim",
    "low": "cyan",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold white on red",
}


def render_alert(alert: dict[str, Any]) -> Text:
    """One alert as a few lines of styled text; the matched words in the excerpt are bold."""
    rule = alert.get("rule", {})
    post = alert.get("post", {})
    author = post.get("author", {})
    severity = str(rule.get("severity", "info"))
    line = Text()
    line.append(f" {severity.upper():8} ", style=SEVERITY_STYLES.get(severity, ""))
    if alert.get("shadow"):
        line.append(" shadow ", style="reverse")
    line.append(f" {rule.get('id', '?')} ", style="bold")
    line.append(str(rule.get("title", "")))
    line.append(f"  @{author.get('handle') or author.get('id', '?')}", style="magenta")
    line.append(f" ({post.get('source', '?')})", style="dim")
    excerpt = Text("   " + str(post.get("excerpt", "")).replace("\n", " "))
    for evidence in alert.get("evidence", []):
        matched = evidence.get("matched")
        if evidence.get("field") == "text" and matched:
            excerpt.highlight_words([matched], style="bold underline yellow")
    line.append("\n")
    line.append_text(excerpt)
    kinds = ", ".join(f"{e.get('type')}: {e.get('value')}" for e in alert.get("evidence", []))
    line.append(f"\n   evidence: {kinds}", style="dim")
    if post.get("url"):
        line.append(f"\n   {post['url']}", style="blue underline")
    return line
