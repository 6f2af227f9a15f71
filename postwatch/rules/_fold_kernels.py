"""The compiled loops of the keyword prefilter (`normalize.fast_words_many`,
`normalize.single_runs`): passes over UTF-8 bytes that Python would make character by
character. Imported on first use: importing numba takes most of a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba

from postwatch.rules.normalize import DROPPED, EXPANDED, LETTER, MARK, TURNED

__all__ = ["single_runs", "step1"]


def _drawn(src: Any, i: int) -> tuple[int, int]:
    """The letter drawn with symbols at src[i] (`|\\/|` m, `|-|` h, `()` o, tried in that
    order, as `normalize._drawn_letters`) and its length in bytes; else the byte and 1."""
    b = int(src[i])
    left = len(src) - i
    if b == 124:  # |
        if left >= 4 and src[i + 1] == 92 and src[i + 2] == 47 and src[i + 3] == 124:
            return 109, 4
        if left >= 3 and src[i + 1] == 45 and src[i + 2] == 124:
            return 104, 3
    elif b == 40 and left >= 2 and src[i + 1] == 41:  # ( )
        return 111, 2
    return b, 1


_drawn_jit = numba.njit(inline="always")(_drawn)


def _step1(  # noqa: PLR0917, PLR0912, PLR0915 - one pass, positional for numba
    src: Any,
    table: Any,
    classes: Any,
    expansions: Any,
    expansion_starts: Any,
    out: Any,
    unmarked: Any,
    drops: Any,
    marked: Any,
    turned: Any,
) -> tuple[int, int]:
    """Step 1 (`normalize.fast_words`) of the UTF-8 texts in `src`, apart by NULs, which
    become b" \\x00 " in `out`. By the class of each character in `classes`: for each text,
    how many TURNED characters it holds (`turned`), and whether a MARK stands between two
    LETTERs in it (`marked`; a drawn letter is no letter, as its symbols are none); for
    each such text, in `unmarked`, its step-1 form without those marks, apart by b" \\x00 ".
    `drops` is room for the places of those marks in one text's form. Returns the lengths
    of `out` and `unmarked` used."""
    i = 0  # in src
    n = 0  # in out
    n_unmarked = 0
    text = 0
    start = 0  # where the text's form starts in out
    dropped = 0  # marks between letters in the text, at drops[:dropped]
    before_letter = False  # the character before was a letter
    mark = -1  # where in out the character before, a mark after a letter, went
    turned_here = 0
    while i <= len(src):
        b = int(src[i]) if i < len(src) else 0
        if b == 0:  # the end of a text
            turned[text] = turned_here
            if dropped:
                marked[text] = True
                if n_unmarked:
                    unmarked[n_unmarked] = 32
                    unmarked[n_unmarked + 1] = 0
                    unmarked[n_unmarked + 2] = 32
                    n_unmarked += 3
                drops[dropped] = n
                begin = start
                for k in range(dropped + 1):
                    size = drops[k] - begin
                    unmarked[n_unmarked : n_unmarked + size] = out[begin : drops[k]]
                    n_unmarked += size
                    begin = drops[k] + 1
            if i < len(src):
                out[n] = 32
                out[n + 1] = 0
                out[n + 2] = 32
                n += 3
            i += 1
            text += 1
            start = n
            dropped = 0
            turned_here = 0
            before_letter = False
            mark = -1
            continue
        kind = int(classes[b])
        if b < 0x80:
            cp, size = _drawn_jit(src, i) if b == 40 or b == 124 else (b, 1)  # noqa: PLR1714 - a set is built at each byte
        elif b < 0xE0:
            cp, size = ((b & 0x1F) << 6) | (int(src[i + 1]) & 0x3F), 2
        elif b < 0xF0:
            cp = ((b & 0x0F) << 12) | ((int(src[i + 1]) & 0x3F) << 6) | (int(src[i + 2]) & 0x3F)
            size = 3
        else:
            cp = (
                ((b & 0x07) << 18)
                | ((int(src[i + 1]) & 0x3F) << 12)
                | ((int(src[i + 2]) & 0x3F) << 6)
                | (int(src[i + 3]) & 0x3F)
            )
            size = 4
        if b >= 0x80:
            kind = int(classes[cp])
        i += size
        letter = (kind & LETTER) != 0
        if letter and mark >= 0:
            drops[dropped] = mark
            dropped += 1
        mark = n if before_letter and (kind & MARK) else -1  # a MARK's step-1 form is a space
        before_letter = letter
        turned_here += (kind & TURNED) != 0
        mapped = int(table[cp])
        if mapped < 0x80:
            out[n] = mapped
            n += 1
        elif mapped == DROPPED:
            continue
        elif mapped >= EXPANDED:
            for j in range(
                expansion_starts[mapped ^ EXPANDED], expansion_starts[(mapped ^ EXPANDED) + 1]
            ):
                out[n] = expansions[j]
                n += 1
        elif mapped < 0x800:
            out[n] = 0xC0 | (mapped >> 6)
            out[n + 1] = 0x80 | (mapped & 0x3F)
            n += 2
        elif mapped < 0x10000:
            out[n] = 0xE0 | (mapped >> 12)
            out[n + 1] = 0x80 | ((mapped >> 6) & 0x3F)
            out[n + 2] = 0x80 | (mapped & 0x3F)
            n += 3
        else:
            out[n] = 0xF0 | (mapped >> 18)
            out[n + 1] = 0x80 | ((mapped >> 12) & 0x3F)
            out[n + 2] = 0x80 | ((mapped >> 6) & 0x3F)
            out[n + 3] = 0x80 | (mapped & 0x3F)
            n += 4
    return n, n_unmarked


def _single_runs(src: Any, table: Any, out: Any) -> int:
    """`src` through the byte table, each run of one byte made one byte, and no space at
    either end; returns the length of `out` used."""
    n = 0
    last = -1
    for i in range(len(src)):
        b = table[src[i]]
        if b != last and not (n == 0 and b == 32):
            out[n] = b
            n += 1
            last = b
    if n and out[n - 1] == 32:
        n -= 1
    return n


step1 = cast(Callable[..., int], numba.njit(cache=True, nogil=True)(_step1))
single_runs = cast(Callable[..., int], numba.njit(cache=True, nogil=True)(_single_runs))
