"""Text from posts, packs and alerts made `printable` before it goes to a terminal."""

from __future__ import annotations

import re

__all__ = ["printable"]

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
