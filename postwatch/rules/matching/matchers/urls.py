"""Hosts of links, and URLs written in text, defanged ones included.

People who share links that filters look for write them so that they do not become links:
`hxxps://example[.]org`, `example(.)org/page`, `www[.]example[dot]org`, `example dot org
slash page`, `example . org`, with an ideographic full stop (`example。org`, which browsers
open as a dot), a one dot leader or small full stop, in full-width letters and full stop, or
with an invisible character inside. `urls_in_text` finds URLs with or without a scheme,
refangs them, and gives their spans in the text.

A dot written as a word or with spaces (`dot`, ` . `) counts only before a name of letters
(`org`, not `5`), so that sentences do not become hosts; a host found that way matters only
where a domain rule names it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["host", "urls_in_text"]

_SPELLED_DOT = r"(?:[ \t]+dot[ \t]+|[ \t]*\.[ \t]+|[ \t]+\.[ \t]*)(?=[a-z]{2,}\b)"
_DOT = rf"(?:{_SPELLED_DOT}|\.|[ \t]*(?:\[\.\]|\(\.\)|\{{\.\}}|\[\s*dot\s*\]|\(\s*dot\s*\))[ \t]*)"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SLASH = r"(?:[ \t]+slash[ \t]+)"
_URL = re.compile(
    r"(?<![\w@.\-\[(])"  # not inside an e-mail address or a longer name
    r"(?:(?:h[tx]{2}ps?|ftp)(?:\[:\]|:)//)?"
    rf"(?:{_LABEL}{_DOT})+[a-z][a-z0-9-]{{1,62}}(?![\w\-])"
    rf"(?::\d{{1,5}})?(?:[/?#][^\s]*|{_SLASH}[\w\-]+)?",
    re.IGNORECASE,
)
_DEFANGED_DOT = re.compile(_DOT, re.IGNORECASE)
_DEFANGED_SLASH = re.compile(_SLASH, re.IGNORECASE)
# one character for one, so that spans stay: full-width ASCII as ASCII, the ideographic,
# half-width ideographic and full-width full stops as dots
_WIDTH = str.maketrans(
    {
        **{chr(0xFF01 + i): chr(0x21 + i) for i in range(0x5E)},
        "\u3002": ".",
        "\uff61": ".",
        "\u2024": ".",  # one dot leader
        "\ufe52": ".",  # small full stop
        "\u3000": " ",
    }
)
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\u2800\ufeff]")
"""Characters that show nothing: soft hyphen, zero-width spaces and joiners, direction
marks, word joiners, the blank braille pattern."""
_DEFANGED_SCHEME = re.compile(r"^h[tx]{2}p(s?)(?:\[:\]|:)//", re.IGNORECASE)


def host(url: str) -> str | None:
    """The host name of a URL (scheme optional), without a trailing dot; None if it has none."""
    try:
        name = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


def urls_in_text(text: str) -> list[tuple[str, tuple[int, int]]]:
    """Each URL written in the text, refanged, with its span in the text (invisible
    characters inside one, `exa\u200bmple.org`, left out of it)."""
    visible, places = text, None
    if _INVISIBLE.search(text):
        places = [i for i, ch in enumerate(text) if not _INVISIBLE.match(ch)]
        visible = _INVISIBLE.sub("", text)
    found = []
    for match in _URL.finditer(visible.translate(_WIDTH)):
        url = _DEFANGED_SCHEME.sub(r"http\1://", match.group())
        url = _DEFANGED_SLASH.sub("/", _DEFANGED_DOT.sub(".", url))
        start, end = match.span()
        found.append((url, (places[start], places[end - 1] + 1) if places else (start, end)))
    return found
