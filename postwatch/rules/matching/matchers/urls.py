"""Hosts of links, and URLs written in text, defanged ones included.

People who share links that filters look for write them so that they do not become links:
`hxxps://example[.]org`, `example(.)org/page`, `www[.]example[dot]org`. `urls_in_text`
finds URLs with or without a scheme, refangs them, and gives their spans in the text.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["host", "urls_in_text"]

_DOT = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\[\s*dot\s*\]|\(\s*dot\s*\))"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_URL = re.compile(
    r"(?<![\w@.\-\[(])"  # not inside an e-mail address or a longer name
    r"(?:(?:h[tx]{2}ps?|ftp)(?:\[:\]|:)//)?"
    rf"(?:{_LABEL}{_DOT})+[a-z][a-z0-9-]{{1,62}}(?![\w\-])"
    r"(?::\d{1,5})?(?:[/?#][^\s]*)?",
    re.IGNORECASE,
)
_DEFANGED_DOT = re.compile(_DOT, re.IGNORECASE)
_DEFANGED_SCHEME = re.compile(r"^h[tx]{2}p(s?)(?:\[:\]|:)//", re.IGNORECASE)


def host(url: str) -> str | None:
    """The host name of a URL (scheme optional), without a trailing dot; None if it has none."""
    try:
        name = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


def urls_in_text(text: str) -> list[tuple[str, tuple[int, int]]]:
    """Each URL written in the text, refanged, with its span in the text."""
    found = []
    for match in _URL.finditer(text):
        url = _DEFANGED_SCHEME.sub(r"http\1://", match.group())
        found.append((_DEFANGED_DOT.sub(".", url), match.span()))
    return found
