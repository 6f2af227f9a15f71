"""Folding of text for matching, with a map back to the original offsets.

Matching runs on a folded form of a post's text; evidence must point into the original.
`fold(text)` returns a `Folded` whose `text` is the folded form and whose `to_original`
maps a span of the folded form back to the span of the original text it came from.

The folded form, step by step:

0. letters drawn with symbols (`|\\/|`, `|-|`, `()`) become the letter, padded with
   zero-width spaces to the same length;
1. every character through `charmap.word_table()`: NFKC/NFKD, case folding, invisible
   characters removed, homoglyphs (Unicode confusables), diacritics, Arabic-script
   variants and digits folded; leetspeak digits to letters (`3xample`), leetspeak symbols
   to markers, everything that is not a letter, digit or spacing mark to a space;
2. a leetspeak symbol inside a word becomes its letter (`ex@mple`), one at either end of
   a word is a separator (`@user`, `front!`) except for the currency signs (`$ample`,
   `exampl€`);
3. four or more one-letter words in a row are joined (`s a m p l e`, `e.x.a.m.p.l.e`),
   and where the gaps between them differ the wider gaps stay word breaks
   (`s a m p l e   b r i g a d e` gives `sample brigade`);
4. a run of three or more of one character becomes one character (`exaaample`); doubled
   letters stay (`good` is not `god`), and the keyword matcher decides, from the run length
   kept in `Folded.detail()`, which runs may stand for which (see `matchers.text`);
5. words are joined by single spaces.

Keyword terms are folded by the same function, so a term and the text it should match
agree. Three functions produce the form: `fast_words` (step 1 only, as bytes, for the
matcher's prefilter; `fast_words_many` makes it for many texts in one compiled pass),
`fold` (all steps with `str.translate` and precompiled regexes, the hot path) and
`Folded.detail()` (all steps again, in compiled passes that carry each character's offsets,
run length and pre-leetspeak form; computed only when a hit needs them). Property tests
hold `fold` and `detail` to the same text, `fast_words_many` to `fast_words`, and the
prefilter to never losing a hit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import numpy as np
import numpy.typing as npt

from postwatch.rules.matching.charmap import (
    CURRENCY_LETTERS,
    DROPPED,
    EXPANDED,
    MARKERS,
    clean_table,
    step1_table,
    word_table,
)

__all__ = [
    "RUNS",
    "Cleaned",
    "Detail",
    "Folded",
    "Words",
    "clean",
    "fast_words",
    "fast_words_many",
    "first",
    "fold",
    "fold_term",
    "single_runs",
    "squeezed",
]

_MARKER_CHARS = frozenset(MARKERS.values())
_SYMBOL_CHARS = "".join(sorted(m for m in _MARKER_CHARS if m not in CURRENCY_LETTERS))
_MARKER_RUNS = re.compile("[A-Z]+")
# four or more: fewer occur in plain text ("I'm a" folds to "i m a")
_SPACED = re.compile(r"(?<![^ ])[^ ](?: +[^ ]){3,}(?![^ ])")
RUNS = re.compile(r"([^ ])\1\1+")
_GAPS = re.compile(r" +")


@dataclass(frozen=True, slots=True)
class Detail:
    """The folded text character by character.

    For folded character i: `starts[i]` and `ends[i]` delimit the span of the original text
    it came from, `counts[i]` is how many equal characters of step 4 it stands for (1, or 3
    and more), and `raw(i)` its form before leetspeak (the clean form: `1` for an `l`
    written as `1`; the sorted distinct forms of a run of step 4).
    """

    text: str
    starts: list[int]
    ends: list[int]
    counts: list[int]
    raws: str  # the clean form of each folded character
    run_raws: dict[int, str]  # ...but for the runs of step 4

    def raw(self, i: int) -> str:
        return self.run_raws.get(i) or self.raws[i]


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
        detail = self.detail()
        if end <= start:
            return detail.starts[start], detail.starts[start]
        return detail.starts[start], detail.ends[end - 1]


@cache
def _ascii_bytes_table() -> bytes:
    """Step 1 for ASCII bytes."""
    table = word_table()
    return bytes(ord(table[i]) for i in range(128)) + b" " * 128


_DRAWN = {"|\\/|": "m", "|-|": "h", "()": "o"}
_DRAWN_LETTERS = re.compile("|".join(map(re.escape, _DRAWN)))
_ZERO_WIDTH = "\u200b"


def _drawn_letters(text: str) -> str:
    """Letters drawn with symbols (`|\\/|` for m, `|-|` for h, `()` for o) written as the
    letter and zero-width spaces, which step 1 removes: the length, and so every offset
    into the text, stays."""
    if all(drawn not in text for drawn in _DRAWN):  # substring searches, faster than a regex's
        return text
    return _DRAWN_LETTERS.sub(
        lambda m: _DRAWN[m.group()] + _ZERO_WIDTH * (len(m.group()) - 1), text
    )


def fast_words(text: str) -> bytes:
    """Step 1 only, UTF-8 encoded: what the matcher's prefilter scans."""
    text = _drawn_letters(text)
    if text.isascii():
        return text.encode("ascii").translate(_ascii_bytes_table())
    return text.translate(word_table()).encode("utf-8", "surrogatepass")


@cache
def _growth() -> int:
    """The most bytes of step-1 form one byte of UTF-8 text can give (3 for a separator)."""
    table, _, starts, _ = step1_table()
    sizes = np.diff(starts)
    expanded = np.flatnonzero((table >= EXPANDED) & (table != DROPPED))
    own = np.array([len(chr(cp).encode("utf-8", "surrogatepass")) for cp in expanded])
    return max(3, int(np.ceil(sizes[table[expanded] ^ EXPANDED] / own).max()))


@dataclass(frozen=True, slots=True)
class Words:
    """The step-1 forms of texts (`fast_words_many`), and what it found in each."""

    form: bytes  # `b" \x00 ".join(map(fast_words, texts))`
    marked: npt.NDArray[np.bool_]  # a MARK stands between two LETTERs
    unmarked: bytes  # the forms of the marked texts without those marks, apart by b" \x00 "
    turned: npt.NDArray[np.int64]  # how many TURNED characters it holds


def fast_words_many(texts: Sequence[str], classes: npt.NDArray[np.uint8]) -> Words:
    """`b" \x00 ".join(map(fast_words, texts))` in one compiled pass over their UTF-8
    bytes, which also finds, by the class of each character in `classes`, the texts with a
    MARK between two LETTERs (and their step-1 forms without those marks, which step 1
    makes spaces) and how many TURNED characters each holds. `fast_words` makes every NUL
    a space, so the NULs of the forms are the separators."""
    marked = np.zeros(len(texts), dtype=np.bool_)
    turned = np.zeros(len(texts), dtype=np.int64)
    if not texts:
        return Words(b"", marked, b"", turned)
    joined = "\x00".join(texts)
    if joined.count("\x00") >= len(texts):  # a text holds a NUL, which step 1 makes a space
        joined = "\x00".join(text.replace("\x00", " ") for text in texts)
    src = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    table, expansions, starts, _ = step1_table()
    out = np.empty(len(src) * _growth(), dtype=np.uint8)
    unmarked = np.empty_like(out)
    drops = np.empty(len(src) + 1, dtype=np.int64)
    size, unmarked_size = _kernels().step1(
        src, table, classes, expansions, starts, out, unmarked, drops, marked, turned
    )
    return Words(out[:size].tobytes(), marked, unmarked[:unmarked_size].tobytes(), turned)


def single_runs(data: bytes, table: bytes) -> bytes:
    """`data` through the byte table (`bytes.translate`), each run of one byte made one
    byte, no space at either end, in one compiled pass."""
    out = np.empty(len(data), dtype=np.uint8)
    size = _kernels().single_runs(
        np.frombuffer(data, dtype=np.uint8), np.frombuffer(table, dtype=np.uint8), out
    )
    return out[:size].tobytes()


def squeezed(data: bytes, table: bytes) -> bytes:
    """`data` through the byte table, the bytes it maps to 0xFF left out, each run of one
    byte made one byte (NULs apart), in one compiled pass."""
    out = np.empty(len(data), dtype=np.uint8)
    size = _kernels().squeezed(
        np.frombuffer(data, dtype=np.uint8), np.frombuffer(table, dtype=np.uint8), out
    )
    return out[:size].tobytes()


@cache
def _kernels() -> ModuleType:
    from postwatch.rules.matching import _fold_kernels  # noqa: PLC0415 - see its module doc

    return _fold_kernels


def _join_spaced(match: re.Match[str]) -> str:
    letters = match.group().split()
    gaps = [len(g) for g in _GAPS.findall(match.group())]
    narrow = min(gaps)
    return letters[0] + "".join(
        (" " if gap > narrow else "") + letter
        for gap, letter in zip(gaps, letters[1:], strict=True)
    )


def _resolve_markers(match: re.Match[str]) -> str:
    """A run of markers: letters inside a word; at either end of one, separators up to
    the first currency sign (`@user`, `front!`, `$ample`, `exampl€`); a word of markers
    alone, separators. The length stays."""
    text, (start, end) = match.string, match.span()
    run = match.group()
    at_start = start == 0 or text[start - 1] == " "
    at_end = end == len(text) or text[end] == " "
    if at_start and at_end:
        return " " * len(run)
    if at_start:
        letters = run.lstrip(_SYMBOL_CHARS)
        return " " * (len(run) - len(letters)) + letters.lower()
    if at_end:
        letters = run.rstrip(_SYMBOL_CHARS)
        return letters.lower() + " " * (len(run) - len(letters))
    return run.lower()


def first(match: re.Match[str]) -> str:
    """The first character of a match: `RUNS.sub(first, text)` folds runs of three."""
    return match.group()[0]


def fold(text: str) -> Folded:
    """Fold text for matching; the offset map is computed only when a span is asked for."""
    words = _drawn_letters(text).translate(word_table())
    if not words.isascii() or not words.islower():
        # markers are the only upper-case letters left; islower() is also False for text
        # with no cased letter at all (Arabic script), where the regex below finds nothing
        words = _MARKER_RUNS.sub(_resolve_markers, words)
    words = _SPACED.sub(_join_spaced, words)
    words = RUNS.sub(first, words)
    return Folded(text, " ".join(words.split()))


def fold_term(term: str) -> str:
    """Fold a keyword term exactly as text is folded."""
    return fold(term).text


def _codes(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _text_of(codes: npt.NDArray[np.uint32]) -> str:
    text: str = codes.tobytes().decode("utf-32-le", "surrogatepass")
    return text


_SYMBOLS = np.array([chr(i) in _SYMBOL_CHARS for i in range(128)])


def _fold_detail(text: str) -> Detail:
    """Steps 1-5 again, keeping for each folded character where it came from, in one
    compiled pass per step (`_fold_kernels.detail`)."""
    text = _drawn_letters(text)  # same length
    raws = text.translate(clean_table())  # same length as the step-1 form: a character each
    table, _, _, lengths = step1_table()
    chars, starts, ends, counts, origin, kept, runs = _kernels().detail(
        _codes(text), _codes(text.translate(word_table())), table, lengths, _SYMBOLS
    )
    run_raws = {
        k: "".join(sorted({raws[j] for j in kept[first:end].tolist()}))
        for k, first, end in zip(*(run.tolist() for run in runs), strict=True)
    }
    return Detail(
        _text_of(chars),
        starts.tolist(),
        ends.tolist(),
        counts.tolist(),
        _text_of(_codes(raws)[origin]),
        run_raws,
    )


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
