"""Folding of text for matching, with a map back to the original offsets.

Matching runs on a folded form of a post's text; evidence must point into the original.
`fold(text)` returns a `Folded` whose `text` is the folded form and whose `to_original`
maps a span of the folded form back to the span of the original text it came from.

The folded form is: Unicode NFKC, case folded, and every run of characters that are not
letters, digits or combining marks replaced by one space. Keyword terms are folded with the
same function, so a term and the text it should match always agree.
"""

from __future__ import annotations

import unicodedata
from functools import cached_property

__all__ = ["Folded", "fold", "fold_term"]


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or unicodedata.combining(ch) != 0


class Folded:
    """The folded form of one text, with the offsets of each folded character."""

    __slots__ = ("__dict__", "original", "text")

    def __init__(self, original: str, text: str) -> None:
        self.original = original
        self.text = text

    @cached_property
    def _spans(self) -> list[tuple[int, int]]:
        # _spans[i] is the span of the original text that folded character i came from
        return _fold_offsets(self.original)[1]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that the folded span [start, end) came from."""
        spans = self._spans
        if end <= start:
            return spans[start][0], spans[start][0]
        return spans[start][0], spans[end - 1][1]


def _clusters(text: str) -> list[tuple[int, str]]:
    """Split text into (start, base character + following combining marks)."""
    clusters: list[tuple[int, str]] = []
    for i, ch in enumerate(text):
        if clusters and unicodedata.combining(ch):
            start, chars = clusters[-1]
            clusters[-1] = (start, chars + ch)
        else:
            clusters.append((i, ch))
    return clusters


def _fold_offsets(text: str) -> tuple[str, list[tuple[int, int]]]:
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pending_space = False
    for start, cluster in _clusters(text):
        span = (start, start + len(cluster))
        for ch in unicodedata.normalize("NFKC", cluster).casefold():
            if not _is_word_char(ch):
                pending_space = bool(out)
                continue
            if pending_space:
                out.append(" ")
                spans.append((start, start))
                pending_space = False
            out.append(ch)
            spans.append(span)
    return "".join(out), spans


def fold(text: str) -> Folded:
    """Fold text for matching; the offset map is computed only when a span is asked for."""
    if text.isascii():
        folded = " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())
        return Folded(text, folded)
    return Folded(text, _fold_offsets(text)[0])


def fold_term(term: str) -> str:
    """Fold a keyword term exactly as text is folded."""
    return fold(term).text
