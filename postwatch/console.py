"""What goes to a terminal: text from posts, packs and alerts made `printable`, and an alert
rendered with its severity colour, rule, author, excerpt and link."""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

from postwatch.alerts.filters import section

__all__ = ["SEVERITY_STYLES", "printable", "render_alert"]

SEVERITY_STYLES = {
    "info": "dim",
    "low": "cyan",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold white on red",
}

# What a terminal acts on instead of showing: C0 controls (ESC begins the sequences that set
# the title, write the clipboard or hide text; CR and BS overwrite), DEL, C1 controls (0x9b
# is CSI and 0x9d OSC on their own), the bidirectional marks, embeddings, overrides and
# isolates, which reorder what follows them, and the line and paragraph separators; and lone
# surrogates (a file name's undecodable bytes), which no terminal encoding takes.
_ACTING = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def printable(text: str) -> str:
    """`text` with each character a terminal would act on written as its `\\uXXXX` escape,
    so that the operator sees it and the terminal does nothing; everything else unchanged.
    The escapes are JSON's: a JSON document stays the same document."""
    return _ACTING.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found[0]):04x}"


def _shown(value: object) -> str:
    return printable(str(value))


def render_alert(alert: dict[str, Any]) -> Text:
    """One alert as a few lines of styled text; the matched words in the excerpt are bold.
    Every value is shown `printable`; parts in shapes Alert v1 does not have are shown as
    far as they go."""
    rule, post = section(alert, "rule"), section(alert, "post")
    author = section(post, "author")
    evidence = alert.get("evidence")
    pieces = [e for e in evidence if isinstance(e, dict)] if isinstance(evidence, list) else []
    severity = _shown(rule.get("severity", "info"))
    line = Text()
    line.append(f" {severity.upper():8} ", style=SEVERITY_STYLES.get(severity, ""))
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
    kinds = ", ".join(f"{e.get('type')}: {e.get('value')}" for e in pieces)
    line.append(f"\n   evidence: {printable(kinds)}", style="dim")
    if post.get("url"):
        line.append(f"\n   {_shown(post['url'])}", style="blue underline")
    return line
