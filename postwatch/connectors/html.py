"""Plain text and links from the HTML that sources publish (Mastodon statuses, feed entries).

Block elements become line breaks so that words of adjacent paragraphs never run together;
text hidden by CSS (Mastodon's `invisible` spans around link prefixes) is kept, because it
is part of what the author wrote. Scripts and styles are dropped.

Any string is read, in time proportional to its length: malformed markup gives the text a
browser shows, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = ["HtmlText", "html_to_text"]

_BLOCKS = frozenset(
    {"p", "div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
     "tr", "table", "section", "article", "header", "footer", "figure", "figcaption"}
)  # fmt: skip
_DROPPED = frozenset({"script", "style", "template", "head", "title"})
_BLANK_RUN = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\r\f\v]+")


@dataclass(frozen=True, slots=True)
class HtmlText:
    text: str
    """The visible text, paragraphs separated by a blank line."""
    links: tuple[str, ...]
    """Targets of `<a href>` in document order, without repeats; mention and hashtag links
    (class `mention` or `hashtag`, rel `tag`) are left out: they point at profiles and tag
    pages of the source itself, not at content."""


def html_to_text(html: str) -> HtmlText:
    parser = _Parser()
    parser.feed(html)
    parser.finish()
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(parser.parts).split("\n")]
    text = _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()
    return HtmlText(text, tuple(dict.fromkeys(parser.links)))


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._dropped = 0

    def finish(self) -> None:
        """`close`, once what `feed` left unread that HTML drops is dropped: a tag, comment
        or declaration that never ends runs to the end of the input, as does a script or
        style never closed. (Python's own recovery at `close` reads such a construct as
        text up to the next `<` and starts again there, re-reading the rest of the input
        for each one: 60 KB of `<a ` took 42 s.) What is left otherwise is plain text."""
        if self.rawdata.startswith("<") or self.cdata_elem is not None:
            self.rawdata = ""
        self.close()

    def parse_html_declaration(self, i: int) -> int:
        try:
            return super().parse_html_declaration(i)
        except AssertionError:
            # Python before 3.13 asserts on a malformed `<![` or `<!DOCTYPE`; HTML reads it
            # as a bogus comment, up to the next `>` (to the end if there is none)
            end = self.rawdata.find(">", i + 2)
            return -1 if end < 0 else end + 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropped += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            values = dict(attrs)
            href = (values.get("href") or "").strip()
            classes = (values.get("class") or "").split()
            internal = "mention" in classes or "hashtag" in classes or values.get("rel") == "tag"
            if href and not internal and not href.startswith(("#", "mailto:", "javascript:")):
                self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropped = max(0, self._dropped - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._dropped:
            self.parts.append(data)
