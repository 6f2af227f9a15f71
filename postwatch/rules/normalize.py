"""Folding of text for matching, with a map back to the original offsets.

Matching runs on a folded form of a post's text; evidence must point into the original.
`fold(text)` returns a `Folded` whose `text` is the folded form and whose `to_original`
maps a span of the folded form back to the span of the original text it came from.

The folded form, step by step:

1. every character through `charmap.word_table()`: NFKC/NFKD, case folding, invisible
   characters removed, homoglyphs (Unicode confusables), diacritics, Arabic-script
   variants and digits folded; leetspeak digits to letters (`3xample`), leetspeak symbols
   to markers, everything that is not a letter, digit or spacing mark to a space;
2. a leetspeak symbol inside a word becomes its letter (`ex@mple`), one at the end of a
   word is a separator (`front!`), and so is one at the start (`@user`) except for the
   currency signs (`$ample`);
3. four or more one-letter words in a row are joined (`s a m p l e`, `e.x.a.m.p.l.e`),
   and where the gaps between them differ the wider gaps stay word breaks
   (`s a m p l e   b r i g a d e` gives `sample brigade`);
4. a run of three or more of one character becomes one character (`exaaample`); doubled
   letters stay (`good` is not `god`), and the keyword matcher decides, from the run length
   kept in `Folded.detail()`, which runs may stand for which (see `matchers.text`);
5. words are joined by single spaces.

Keyword terms are folded by the same function, so a term and the text it should match
agree. Three implementations produce the form: `fast_words` (step 1 only, as bytes, for the
matcher's prefilter), `fold` (all steps with `str.translate` and precompiled regexes, the
hot path) and `Folded.detail()` (all steps one character at a time, keeping offsets, run
lengths and each character's pre-leetspeak form; computed only when a hit needs a span).
Property tests hold the three to the same result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from postwatch.rules.charmap import LEADING_LETTERS, MARKERS, clean_table, word_table

__all__ = ["Cleaned", "Detail", "Folded", "clean", "fast_words", "fold", "fold_term"]

_MARKER_CHARS = frozenset(MARKERS.values())
_MARKER_LOWER = str.maketrans({m: m.lower() for m in _MARKER_CHARS})
_LEADING = frozenset(m for m in _MARKER_CHARS if m not in LEADING_LETTERS)
_EDGE_MARKERS = re.compile(r"(?<![^ ])[" + "".join(sorted(_LEADING)) + r"]+|[A-Z]+(?![^ ])")
_SPACED = re.compile(r"(?<![^ ])[^ ](?: +[^ ]){3,}(?![^ ])")
_SPACED_MIN = 4  # fewer occur in plain text: "I'm a" folds to "i m a"
_RUNS = re.compile(r"([^ ])\1\1+")
_GAPS = re.compile(r" +")


@dataclass(frozen=True, slots=True)
class Detail:
    """The folded text character by character.

    For folded character i: `spans[i]` is the span of the original text it came from,
    `counts[i]` how many equal characters of step 4 it stands for (1, or 3 and more), and
    `raws[i]` its form before leetspeak (the clean form: `1` for an `l` written as `1`).
    """

    text: str
    spans: tuple[tuple[int, int], ...]
    counts: tuple[int, ...]
    raws: tuple[str, ...]


class Folded:
    """The folded form of one text; offsets are computed on the first `to_original`."""

    __slots__ = ("_detail", "original", "text")

    def __init__(self, original: str, text: str) -> None:
        self.original = original
        self.text = text
        self._detail: Detail | None = None

    def detail(self) -> Detail:
        if self._detail is None:
            self._detail = _fold_detail(self.original)
        return self._detail

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that the folded span [start, end) came from."""
        spans = self.detail().spans
        if end <= start:
            return spans[start][0], spans[start][0]
        return spans[start][0], spans[end - 1][1]


@cache
def _ascii_bytes_table() -> bytes:
    table = word_table()
    return bytes(ord(table[i]) for i in range(128)) + b" " * 128


def fast_words(text: str) -> bytes:
    """Step 1 only, UTF-8 encoded: what the matcher's prefilter scans."""
    if text.isascii():
        return text.encode("ascii").translate(_ascii_bytes_table())
    return text.translate(word_table()).encode("utf-8", "surrogatepass")


def _join_spaced(match: re.Match[str]) -> str:
    letters = match.group().split()
    gaps = [len(g) for g in _GAPS.findall(match.group())]
    narrow = min(gaps)
    return letters[0] + "".join(
        (" " if gap > narrow else "") + letter
        for gap, letter in zip(gaps, letters[1:], strict=True)
    )


def _resolve_markers(match: re.Match[str]) -> str:
    return " " * len(match.group())


def fold(text: str) -> Folded:
    """Fold text for matching; the offset map is computed only when a span is asked for."""
    words = text.translate(word_table())
    if not words.isascii() or not words.islower():
        # markers are the only upper-case letters left; islower() is also False for text
        # with no cased letter at all (Arabic script), where the regex below finds nothing
        words = _EDGE_MARKERS.sub(_resolve_markers, words).translate(_MARKER_LOWER)
    words = _SPACED.sub(_join_spaced, words)
    words = _RUNS.sub(r"\1", words)
    return Folded(text, " ".join(words.split()))


def fold_term(term: str) -> str:
    """Fold a keyword term exactly as text is folded."""
    return fold(term).text


@dataclass(slots=True)
class _Char:
    """One character of step 1: its folded form, where it came from, its clean form."""

    folded: str
    start: int
    end: int
    raw: str


_Token = list[_Char]


def _fold_detail(text: str) -> Detail:
    """Steps 1-5 one character at a time, keeping where each folded character came from."""
    clean, word = clean_table(), word_table()
    # step 1
    chars: list[_Char] = []
    for i, ch in enumerate(text):
        cleaned = clean.get(ord(ch), ch)
        if not cleaned and chars and chars[-1].end == i:
            chars[-1].end = i + 1  # a removed mark or invisible joins the character before it
        for w, c in zip(word.get(ord(ch), ch), cleaned, strict=True):
            chars.append(_Char(w, i, i + 1, c))
    # tokens: maximal runs of non-space characters, with the gap (in spaces) before each
    tokens: list[_Token] = []
    gaps: list[int] = []
    gap = 0
    for item in chars:
        if item.folded == " ":
            gap += 1
            continue
        if gap or not tokens:
            tokens.append([])
            gaps.append(gap)
            gap = 0
        tokens[-1].append(item)
    # step 2: markers at either end of a token are separators, inside it they are letters
    tokens, gaps = _split_markers(tokens, gaps)
    # step 3: four or more one-character tokens in a row are joined
    tokens = _join_single(tokens, gaps)
    # steps 4 and 5
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    counts: list[int] = []
    raws: list[str] = []
    for token in tokens:
        if out:
            # between two words; one character may fold to several words (ﷺ)
            out.append(" ")
            spans.append((min(spans[-1][1], token[0].start), max(spans[-1][1], token[0].start)))
            counts.append(1)
            raws.append(" ")
        i = 0
        while i < len(token):
            j = i
            while j < len(token) and token[j].folded == token[i].folded:
                j += 1
            run = j - i if j - i >= 3 else 1
            for k in range(i, j) if run == 1 else (i,):
                out.append(token[k].folded)
                counts.append(run)
                raws.append("".join(sorted({c.raw for c in token[k : k + run]})))
                spans.append((token[k].start, token[k + run - 1].end))
            i = j
    return Detail("".join(out), tuple(spans), tuple(counts), tuple(raws))


def _split_markers(tokens: list[_Token], gaps: list[int]) -> tuple[list[_Token], list[int]]:
    out_tokens: list[_Token] = []
    out_gaps: list[int] = []
    carry = 0
    for token, gap in zip(tokens, gaps, strict=True):
        start, end = 0, len(token)
        while start < end and token[start].folded in _LEADING:
            start += 1
        while end > start and token[end - 1].folded in _MARKER_CHARS:
            end -= 1
        if start == end:
            carry += gap + len(token)
            continue
        out_gaps.append(gap + carry + start)
        carry = len(token) - end
        out_tokens.append(
            [_Char(c.folded.lower(), c.start, c.end, c.raw) for c in token[start:end]]
        )
    return out_tokens, out_gaps


def _join_single(tokens: list[_Token], gaps: list[int]) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and len(tokens[j]) == 1:
            j += 1
        if j - i >= _SPACED_MIN:
            inner = gaps[i + 1 : j]
            narrow = min(inner)
            group = list(tokens[i])
            for token, gap in zip(tokens[i + 1 : j], inner, strict=True):
                if gap > narrow:
                    out.append(group)
                    group = []
                group.extend(token)
            out.append(group)
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return out


class Cleaned:
    """The clean form of one text (see `charmap`), which regexes run on, with offsets."""

    __slots__ = ("original", "text")

    def __init__(self, original: str, text: str) -> None:
        self.original = original
        self.text = text

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that the clean span [start, end) came from."""
        table = clean_table()
        first, last, position = len(self.original), len(self.original), 0
        for i, ch in enumerate(self.original):
            position += len(table.get(ord(ch), ch))
            if position > start and first == len(self.original):
                first = i
            if position >= end:
                last = i + 1
                break
        return first, max(first, last)


def clean(text: str) -> Cleaned:
    """The clean form of text: what regex rules match against."""
    return Cleaned(text, text.translate(clean_table()))
