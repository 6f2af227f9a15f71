"""The compiled loops of the keyword prefilter (`normalize.fast_words_many`,
`normalize.single_runs`) and of a hit's offsets (`normalize.Folded.detail`): passes over
bytes or code points that Python would make character by character. Imported on first use:
importing numba takes most of a second."""

from __future__ import annotations

from typing import Any

import numpy as np

from postwatch.rules.matching._numba import inline, kernel
from postwatch.rules.matching.charmap import DROPPED, EXPANDED, LETTER, MARK, TURNED

__all__ = ["detail", "single_runs", "squeezed", "step1"]


@inline
def _code_point(src: Any, i: int) -> tuple[int, int]:
    """The code point whose UTF-8 form starts at src[i], and the length of that form."""
    b = int(src[i])
    if b < 0x80:
        return b, 1
    if b < 0xE0:
        return ((b & 0x1F) << 6) | (int(src[i + 1]) & 0x3F), 2
    if b < 0xF0:
        return ((b & 0x0F) << 12) | ((int(src[i + 1]) & 0x3F) << 6) | (int(src[i + 2]) & 0x3F), 3
    return (
        ((b & 0x07) << 18)
        | ((int(src[i + 1]) & 0x3F) << 12)
        | ((int(src[i + 2]) & 0x3F) << 6)
        | (int(src[i + 3]) & 0x3F)
    ), 4


@inline
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


@kernel
def step1(  # noqa: PLR0917, PLR0912, PLR0915 - one pass, positional for numba
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
    previous = 0  # the character before (of a drawn letter, its last symbol)
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
            previous = 0
            continue
        if b == 40 or b == 124:  # noqa: PLR1714 - a set is built at each byte
            cp, size = _drawn(src, i)  # ( or |: perhaps a drawn letter, no letter itself
            kind = 0 if size > 1 else int(classes[cp])
            last = int(src[i + size - 1])
        else:
            cp, size = _code_point(src, i)
            kind = int(classes[cp])
            last = cp
        # letters are looked at only around a mark: a branch per character on whether it is
        # a letter would be mispredicted at every word's start and end
        if kind & (MARK | TURNED):
            turned_here += (kind & TURNED) != 0
            if kind & MARK and classes[previous] & LETTER and i + size < len(src):
                after, _ = _code_point(src, i + size)
                if classes[after] & LETTER:
                    drops[dropped] = n  # where its step-1 form, a space, goes
                    dropped += 1
        previous = last
        i += size
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


@kernel
def single_runs(src: Any, table: Any, out: Any) -> int:
    """`src` through the byte table, each run of one byte made one byte, and no space at
    either end; returns the length of `out` used."""
    n = 0
    last = 32  # as if after a space: spaces at the start are a run of it
    for i in range(len(src)):
        b = table[src[i]]
        out[n] = b  # without a branch: kept where it differs from the byte before
        n += b != last
        last = b
    if n and out[n - 1] == 32:
        n -= 1
    return n


@kernel
def squeezed(src: Any, table: Any, out: Any) -> int:
    """`src` through the byte table, the bytes it maps to 0xFF left out, each run of one byte
    made one byte (but NULs, which part texts); returns the length of `out` used."""
    n = 0
    last = 0xFF
    for i in range(len(src)):
        b = table[src[i]]
        if b == 0xFF or (b == last and b != 0):
            continue
        out[n] = b
        n += 1
        last = b
    return n


@inline
def _join_spaced(letters: Any, count: int, done: int, kept: Any, n_kept: int) -> int:
    """Step 3 for one run of `count` one-letter words at `letters`: the places before it
    from `done` on, then its letters, with a space where a gap is wider than the narrowest
    (the first space of the gap), go into `kept`; returns its new length."""
    for j in range(done, letters[0]):
        kept[n_kept] = j
        n_kept += 1
    narrow = letters[1] - letters[0]
    for k in range(2, count):
        narrow = min(narrow, letters[k] - letters[k - 1])
    kept[n_kept] = letters[0]
    n_kept += 1
    for k in range(1, count):
        if letters[k] - letters[k - 1] > narrow:
            kept[n_kept] = letters[k - 1] + 1
            n_kept += 1
        kept[n_kept] = letters[k]
        n_kept += 1
    return n_kept


@kernel
def detail(  # noqa: PLR0912, PLR0915 - one pass per step, as `normalize.fold`
    codes: Any, words: Any, table: Any, lengths: Any, symbols: Any
) -> tuple[Any, Any, Any, Any, Any, Any, Any]:
    """Steps 2-5 of `normalize.fold` over the step-1 form `words` of the text `codes` (code
    points), keeping for each folded character where it came from. Returns the folded
    characters; for each, its start and end in the text, how many equal characters of step
    4 it stands for, and its place in `words`; the places in `words` left after step 3
    (`kept`); and the runs of step 4 as (folded character, first and end place in `kept`)."""
    size = len(words)
    starts = np.empty(size, dtype=np.int64)
    ends = np.empty(size, dtype=np.int64)
    # step 1: a character whose step-1 form is empty joins the one before it
    made = 0
    last = -1
    for i in range(len(codes)):
        mapped = int(table[codes[i]])
        width = 0 if mapped == DROPPED else lengths[mapped ^ EXPANDED] if mapped >= EXPANDED else 1
        if width:
            if last >= 0:
                ends[last] = i
            for _ in range(width):
                starts[made] = i
                ends[made] = i + 1
                made += 1
            last = made - 1
    if last >= 0:
        ends[last] = len(codes)
    # step 2: runs of markers (A-Z) inside a word are letters; at its start (end), symbols
    # there are separators; a word of markers alone is separators
    w = words.astype(np.int64)
    j = 0
    while j < size:
        if not 65 <= w[j] <= 90:
            j += 1
            continue
        a = j
        while j < size and 65 <= w[j] <= 90:
            j += 1
        at_start = a == 0 or w[a - 1] == 32
        at_end = j == size or w[j] == 32
        low, high = a, j
        if at_start and at_end:
            high = low
            w[a:j] = 32
        elif at_start:
            while low < j and symbols[w[low]]:
                w[low] = 32
                low += 1
        elif at_end:
            while high > low and symbols[w[high - 1]]:
                w[high - 1] = 32
                high -= 1
        for k in range(low, high):
            w[k] += 32  # lower case
    # step 3: four or more one-letter words in a row are joined
    kept = np.empty(size, dtype=np.int64)
    letters = np.empty(size, dtype=np.int64)
    n_kept = 0
    count = 0
    done = 0
    i = 0
    while i < size:
        if w[i] == 32:
            i += 1
            continue
        j = i
        while j < size and w[j] != 32:
            j += 1
        if j - i == 1:
            letters[count] = i
            count += 1
        else:
            if count >= 4:
                n_kept = _join_spaced(letters, count, done, kept, n_kept)
                done = letters[count - 1] + 1
            count = 0
        i = j
    if count >= 4:
        n_kept = _join_spaced(letters, count, done, kept, n_kept)
        done = letters[count - 1] + 1
    for j in range(done, size):
        kept[n_kept] = j
        n_kept += 1
    kept = kept[:n_kept]
    # steps 4 and 5: of a run of three or more keep the first, of spaces one between words
    first_letter = -1
    last_letter = -1
    for t in range(n_kept):
        if w[kept[t]] != 32:
            if first_letter < 0:
                first_letter = t
            last_letter = t
    chars = np.empty(n_kept, dtype=np.uint32)
    folded_starts = np.empty(n_kept, dtype=np.int64)
    folded_ends = np.empty(n_kept, dtype=np.int64)
    counts = np.empty(n_kept, dtype=np.int64)
    origin = np.empty(n_kept, dtype=np.int64)
    run_at = np.empty(n_kept, dtype=np.int64)
    run_first = np.empty(n_kept, dtype=np.int64)
    run_end = np.empty(n_kept, dtype=np.int64)
    n = 0
    runs = 0
    t = max(first_letter, 0)
    while first_letter >= 0 and t <= last_letter:
        c = w[kept[t]]
        u = t + 1
        if c == 32:
            if w[kept[t - 1]] == 32:  # a space after a space
                t = u
                continue
        else:
            while u <= last_letter and w[kept[u]] == c:
                u += 1
            if u - t < 3:
                u = t + 1
        chars[n] = c
        origin[n] = kept[t]
        folded_starts[n] = starts[kept[t]]
        folded_ends[n] = ends[kept[u - 1]]
        counts[n] = u - t
        if u - t > 1:
            run_at[runs] = n
            run_first[runs] = t
            run_end[runs] = u
            runs += 1
        n += 1
        t = u
    runs_found = (run_at[:runs], run_first[:runs], run_end[:runs])
    return chars[:n], folded_starts[:n], folded_ends[:n], counts[:n], origin[:n], kept, runs_found
