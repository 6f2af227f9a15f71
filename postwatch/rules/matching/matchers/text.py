"""Every keyword term and regex of the loaded packs, compiled into one hyperscan matcher.

Keywords. A term matches where its folded form (see `normalize`) occurs in the folded text
as whole words; its words may also be run together (`#ExampleFront`, `example_front`,
`e.x.a.m.p.l.e.f.r.o.n.t`). A text with a mark between two letters (`.-*_·`, an emoji or
symbol: `_MID_WORD_SYMBOLS`) is searched with the mark as a break (`pro-example`) and without
it (`ex.ample`, `exa-mple`); a text with two or more letters that only upside-down writing
uses (turned a, e, r, t, ...) is also searched turned the right way up (see `_TURNED`); a
term is also sought in its spellings with `ph` for `f` and `vv` for `w`. Two refinements are
checked on each hit:

- runs: a letter repeated three or more times in the text stands for that letter written
  any number of times in the term (`exaaample`, `alllah`); otherwise runs must be equal,
  so that `good` is not `god` and `con` is not `coon`, except for one letter written twice
  in a term of six letters or more (`exxample`);
- ambiguity: `1`, `!` and `|` fold to `l`, and stand for an `i` of the term only when the
  text wrote one of them there (`br1gade` is `brigade`, `brlgade` is not).

How a post is searched, fastest case first:

1. `normalize.fast_words_many(texts)` (one compiled pass over all the texts' bytes, which
   also makes the second forms of some texts, see `_Forms`), with runs made single,
   is scanned once for every term as a literal; the same scan looks for triggers, what
   only the full fold undoes: a character three times in a row, four one-letter words in
   a row, a leetspeak symbol inside a word. The texts of many posts go into one scan
   (`Engine.evaluate_many`). A text with no hit and no trigger (almost every text) costs
   nothing more;
2. a post whose only trigger is a run of three (informal stretching: "sooo") is scanned
   once more with those runs folded; most stop there;
3. otherwise the text is folded fully (`normalize.fold`) and scanned for the literals
   again, which names the candidate terms;
4. each candidate is confirmed, and mapped to the original text, from `Folded.detail()`.

Regexes run on the clean form (`normalize.clean`: case, width, homoglyphs, diacritics,
invisible characters folded; punctuation and spacing as written), UTF-8, case-insensitive,
leftmost start. Hyperscan guarantees matching time linear in the input; a pattern it cannot
compile that way (back-references, lookaround, atomic groups, possessive quantifiers, or too
large) is refused by `check_regexes` when the pack loads, and so is one that would take the
compiler long: it repeats more than `MAX_REPEAT` (counted from the pattern, before anything
is compiled), or its compile, which runs in a child process, goes on past a time limit.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate, combinations, product
from typing import Any

import hyperscan
import msgspec
import numpy as np
import numpy.typing as npt
import re2

from postwatch.rules.matching.cache import CompileCache, engine_id
from postwatch.rules.matching.charmap import (
    AMBIGUOUS_L,
    LETTER,
    MARK,
    MARKERS,
    TURNED,
    clean_table,
)
from postwatch.rules.matching.normalize import RUNS as _RUNS
from postwatch.rules.matching.normalize import (
    Detail,
    Folded,
    clean,
    fast_words,
    fast_words_many,
    first,
    fold,
    single_runs,
    squeezed,
)
from postwatch.rules.matching.roman import SHAPE, SKELETON, Variant, is_english, keys_of, variant

__all__ = ["COMPILE_SECONDS", "MAX_REGEXES", "MAX_REPEAT", "Hit", "TextMatcher", "check_regexes"]

MAX_REPEAT = 100
"""How much one regex may repeat: the sum of its bounded repeats' upper bounds, each times the
size of what it repeats (so nested repeats multiply). Hyperscan's compile time grows faster
than that (UTF-8 mode): `abcdef.{0,100}ghijkl` compiles in 0.3 s, with `.{0,150}` 2.3 s,
and `.{0,10000}x.{0,10000}y` ran 89 s before it failed."""
MAX_REGEXES = 1_000
"""Regexes in one pack, and in all the packs one engine compiles (1,000 typical ones compile
in 2.7 s)."""
COMPILE_SECONDS = 10.0
"""How long the regexes of a pack may take to compile, all together, when it loads."""

_MARKS = "".join(sorted(set(MARKERS.values())))
_SEP = f"[ {_MARKS}\\x00]"  # NUL: where one text ends and the next begins
_NOT_SEP = f"[^ {_MARKS}\\x00]"
# hyperscan tells which regexes match a text; re2, linear-time too, then finds the leftmost,
# longest match of just those. hyperscan's own start-of-match tracking (SOM_LEFTMOST) crashes
# the python-hyperscan 0.9.1 wheel on texts of a few hundred bytes ("a+b" over 400 "a"s).
_REGEX_FLAGS = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_CASELESS
_TRIGGERS = (
    # four one-letter words in a row
    f"(?:^|{_SEP}){_NOT_SEP}(?:[ {_MARKS}]+{_NOT_SEP}){{3}}(?:{_SEP}|$)",
    # a leetspeak symbol inside a word, or a currency sign at either end of one
    f"{_NOT_SEP}[{_MARKS}]+{_NOT_SEP}",
    f"(?:^|[ \\x00])[{_MARKS}]*[SEC][{_MARKS}]*{_NOT_SEP}",
    f"{_NOT_SEP}[{_MARKS}]*[SEC][{_MARKS}]*(?:[ \\x00]|$)",
)
_UNSUPPORTED = ("Zero-width", "Back-reference", "back reference", "Atomic", "Possessive")


@dataclass(frozen=True, slots=True)
class Hit:
    """A keyword term or regex found in the text at `index` of the scanned texts.

    `key` is the term or the regex as written; `span` indexes the original text.
    """

    index: int
    key: str
    span: tuple[int, int]


def check_regexes(patterns: Sequence[str], *, seconds: float = COMPILE_SECONDS) -> dict[int, str]:
    """Why each pattern that cannot be used cannot, by its index (empty: all can be): it
    repeats more than `MAX_REPEAT`; hyperscan cannot compile it (not valid, or not
    linear-time); re2 cannot compile it for spans; or compiling runs past `seconds`, for all
    the patterns together (the ones after the pattern it was at are then not compiled: the
    one named is reason enough to refuse them all). Hyperscan compiles in a child process,
    so that one that runs long can be stopped, with its memory limited too."""
    reasons: dict[int, str] = {}
    for index, pattern in enumerate(patterns):
        cost = _repeat_cost(pattern)
        if cost > MAX_REPEAT:
            reasons[index] = (
                f"repeats too much ({cost:,} in all: {{n,m}} bounds, nested ones multiplied;"
                f" at most {MAX_REPEAT} in a regex)"
            )
    rest = [i for i in range(len(patterns)) if i not in reasons]
    compiled = _compile_each([_as_clean(patterns[i]) for i in rest], seconds)
    for index, reason in zip(rest, compiled, strict=False):
        if reason is not None:
            reasons[index] = reason
            continue
        try:
            _span_regex(patterns[index])
        except re2.error as exc:
            reasons[index] = f"cannot be compiled for spans ({exc})"
    return reasons


_COUNT_LIMIT = 10_000_000  # a repeat count is read no further than this
_QUANTIFIER = re.compile(r"\{(\d*)(?:,(\d*))?\}")
_BRACED_ESCAPES = frozenset("xopPNgk")  # \x{41}, \p{L}, ...: the braces are the escape's
# a group's opening with what may follow it: (?:  (?i)  (?i-s:  (?P<name>  (?<name>  (?=  (?<!
_GROUP = re.compile(r"\((?:\?(?:P?<\w*>|'\w*'|<?[=!]|[>|]|[\w^-]*:?))?")


def _repeat_cost(pattern: str) -> int:
    """How much the pattern repeats (see `MAX_REPEAT`), read from its text alone; it counts
    more rather than less where the syntax leaves room (alternatives are added up, `{,n}` is
    taken for a repeat)."""
    # one frame per open group: its size and cost, and the size and cost of its last atom
    # (what a quantifier repeats; None after `|` or at the start)
    frames: list[list[int]] = [[0, 0]]
    lasts: list[tuple[int, int] | None] = [None]

    def atom(size: int, cost: int) -> None:
        frames[-1][0] += size
        frames[-1][1] += cost
        lasts[-1] = (size, cost)

    i = 0
    while i < len(pattern):
        quantifier = _QUANTIFIER.match(pattern, i) if pattern[i] == "{" else None
        if quantifier is not None and any(quantifier.groups()) and lasts[-1] is not None:
            bound = min(int((quantifier[2] or quantifier[1])[:8]), _COUNT_LIMIT)
            size, cost = lasts[-1]
            frames[-1][0] += size * bound - size
            frames[-1][1] += size * bound - cost
            lasts[-1] = (size * bound, size * bound)
            i = quantifier.end()
            continue
        kind, atoms, i = _token(pattern, i)
        if kind == "open":
            frames.append([0, 0])
            lasts.append(None)
        elif kind == "close" and len(frames) > 1:
            size, cost = frames.pop()
            lasts.pop()
            atom(size, cost)
        elif kind == "or":
            lasts[-1] = None
        elif atoms:  # literals, of which a quantifier repeats the last
            frames[-1][0] += atoms - 1
            atom(1, 0)
    return sum(cost for _, cost in frames)


def _token(pattern: str, i: int) -> tuple[str, int, int]:
    """The token at `i` other than a bounded repeat: its kind (open, close, or, atoms), how
    many atoms it is, and where it ends."""
    ch = pattern[i]
    if pattern.startswith("\\Q", i):  # quoted: literals up to \E
        close = pattern.find("\\E", i + 2)
        close = len(pattern) if close < 0 else close
        return "atoms", close - i - 2, close + 2
    if ch == "\\":
        braced = pattern[i + 1 : i + 2] in _BRACED_ESCAPES and pattern[i + 2 : i + 3] == "{"
        close = pattern.find("}", i) if braced else i + 1
        return "atoms", 1, len(pattern) if close < 0 else close + 1
    if ch == "[":
        return "atoms", 1, _class_end(pattern, i)
    if pattern.startswith("(?#", i):  # a comment
        close = pattern.find(")", i)
        return "atoms", 0, len(pattern) if close < 0 else close + 1
    if ch == "(":
        return "open", 0, _GROUP.match(pattern, i).end()  # type: ignore[union-attr]  # "(" matches
    # an unbounded repeat (* + ?) costs what its atom costs: no atoms of its own
    return {")": "close", "|": "or"}.get(ch, "atoms"), 0 if ch in "*+?)|" else 1, i + 1


def _class_end(pattern: str, start: int) -> int:
    """Where the character class opening at `start` ends (after its `]`)."""
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":  # a `]` first is a member
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
        elif pattern.startswith("[:", i) and (close := pattern.find(":]", i + 2)) >= 0:
            i = close + 2
        elif pattern[i] == "]":
            return i + 1
        else:
            i += 1
    return len(pattern)


_CHILD_MEMORY = 2 * 1024 * 1024 * 1024
# compiles each pattern of a JSON list read from stdin alone; writes hyperscan's error (or
# null) for each as a JSON line, at once, so that the parent knows how far it came
_CHILD = f"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({_CHILD_MEMORY}, {_CHILD_MEMORY}))
import hyperscan
for pattern in json.load(sys.stdin):
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        db.compile(expressions=[pattern.encode()], ids=[0], elements=1, flags=[{_REGEX_FLAGS}])
        error = None
    except hyperscan.error as exc:
        error = str(exc)
    print(json.dumps(error), flush=True)
"""


def _compile_each(patterns: Sequence[str], seconds: float) -> list[str | None]:
    """Why hyperscan cannot compile each pattern alone (None: it can), compiled in a child
    process that is stopped after `seconds`; shorter than `patterns` when the child stopped
    early, the last reason then saying why."""
    if not patterns:
        return []
    with subprocess.Popen(  # noqa: S603 - this interpreter, running the code above
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as child:
        try:
            out, _ = child.communicate(json.dumps(patterns).encode(), timeout=seconds)
            stopped = f"stopped the compiler (exit status {child.returncode})"
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
            stopped = f"took longer than {seconds:g} s to compile (with the regexes before it)"
    errors: list[str | None] = [json.loads(line) for line in out.splitlines()]
    reasons = [None if error is None else _compile_reason(error) for error in errors]
    return reasons if len(reasons) == len(patterns) else [*reasons, stopped]


def _compile_reason(error: str) -> str:
    reason = error.rstrip(".")
    if any(word in reason for word in _UNSUPPORTED):
        return f"needs a backtracking engine ({reason}); only linear-time regexes run"
    return f"cannot be compiled ({reason})"


def _as_clean(pattern: str) -> str:
    """A regex written as the clean form of a text it matches: its letters outside ASCII,
    outside character classes, as the clean form makes them (`الإسلامية` as `الاسلاميه`,
    `café` as `cafe`, Cyrillic `м` as `m`), so that a pattern written in any script matches
    the text it names. ASCII is left as written: it holds the regex's syntax."""
    table = clean_table()
    out: list[str] = []
    in_class = escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif not ch.isascii() and not in_class:
            ch = table.get(ord(ch), ch)  # noqa: PLW2901 - the character as the text has it
        out.append(ch)
    return "".join(out)


def _span_regex(pattern: str) -> Any:  # re2 has no type information
    options = re2.Options()
    options.longest_match = True
    options.case_sensitive = False
    return re2.compile(_as_clean(pattern), options)


def _loaded(serialised: bytes) -> hyperscan.Database:
    db = hyperscan.loadb(serialised, hyperscan.HS_MODE_BLOCK)
    db.scratch = hyperscan.Scratch(db)  # a compiled database has one, a loaded one not yet
    return db


class _SavedKeywords(msgspec.Struct, array_like=True):
    """A `_KeywordDatabase` as the compile cache keeps it, its databases serialised."""

    terms: list[list[int]]
    first_run: int
    literals: bytes
    triggers: bytes
    variants: list[list[int]]
    rows: list[tuple[bytes, bytes, int] | None]


class _Saved(msgspec.Struct, array_like=True):
    """A `TextMatcher` as the compile cache keeps it."""

    folded: tuple[str, ...]
    written: tuple[list[tuple[str, str]], ...]
    variants: tuple[tuple[str, Variant], ...]
    keywords: _SavedKeywords | None
    regexes: bytes | None


def _compile(patterns: Sequence[str | bytes], flags: int | Sequence[int]) -> hyperscan.Database:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=[p if isinstance(p, bytes) else p.encode("utf-8") for p in patterns],
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[flags] * len(patterns) if isinstance(flags, int) else list(flags),
    )
    return db


@dataclass(frozen=True, slots=True)
class _Runs:
    """A folded word sequence as runs: (character, length, forms before leetspeak).

    A text's runs stand for a term's when they agree run by run, except that a run of
    three or more stands for a run of any length, and in a term of `_DOUBLED_FROM` letters
    or more one letter may be written twice (`exxample`): shorter words differ by one
    doubled letter too often (`god` and `good`, `con` and `coon`)."""

    runs: tuple[tuple[str, int, frozenset[str]], ...]

    @classmethod
    def of(
        cls, detail: Detail, start: int, end: int, read: Mapping[int, str] | None = None
    ) -> _Runs:
        """The runs of `detail.text[start:end]`, the characters at the positions of `read`
        read as it says."""
        runs: list[tuple[str, int, frozenset[str]]] = []
        for i in range(start, end):
            read_as = read.get(i, detail.text[i]) if read else detail.text[i]
            if read_as == " ":
                continue
            # a run of step 4 read letter by letter (`1ll`: i, l, l) is one character each
            count, raw = (detail.counts[i], detail.raw(i)) if len(read_as) == 1 else (1, read_as)
            for ch in read_as:
                if runs and runs[-1][0] == ch:
                    last = runs[-1]
                    runs[-1] = (ch, last[1] + count, last[2] | set(raw))
                else:
                    runs.append((ch, count, frozenset(raw)))
        return cls(tuple(runs))

    def stands_for(self, term: _Runs) -> bool:
        """Whether these runs of a text may stand for the term's runs (see the module doc)."""
        if len(self.runs) != len(term.runs):
            return False
        doubled = 0
        for (ch, length, raws), (term_ch, term_length, term_raws) in zip(
            self.runs, term.runs, strict=True
        ):
            if length != term_length and length < 3:
                if (length, term_length) != (2, 1):
                    return False
                doubled += 1
            if ch != term_ch and not (term_ch == "i" and ch == "l" and raws <= AMBIGUOUS_L):
                return False
            if ch == term_ch == "l" and "i" in term_raws and not raws <= AMBIGUOUS_L:
                return False
            digits = {r for r in term_raws if r.isdigit()}
            if digits and not digits <= raws <= term_raws:
                return False  # a term's digits are matched by those digits, not by letters
        return not doubled or (doubled == 1 and term.letters >= _DOUBLED_FROM)

    @property
    def letters(self) -> int:
        return sum(length for _, length, _ in self.runs)


_MAX_READINGS = 4
"""Characters of one place read either as `i` or as `l` (`_readings`); those after the
fourth are read as folded."""


def _readings(folded: Folded, start: int, end: int) -> Iterator[_Runs]:
    """The ways the folded text at `start:end` may be read: as folded, then with letters
    drawn alike read as `i` or `l`: a symbol read as `l` (`1 ! |`, AMBIGUOUS_L) as `i` where
    it stands against an `l` (`l1beration`: its runs are otherwise one `l` run); a capital
    I among lower-case letters, or a palochka, as `l` (`exampIe`); a lower-case `l` in a
    word of capitals as `i` (`BRlGADE`)."""
    detail = folded.detail()
    yield _Runs.of(detail, start, end)
    original = folded.original
    alike: dict[int, str] = {}
    for i in range(start, end):
        ch, raw = detail.text[i], detail.raw(i)
        if ch not in "il":
            continue
        written = original[detail.starts[i] : detail.ends[i]]
        capitals = _in_capitals(original, detail.starts[i])
        beside = detail.text[max(i - 1, 0) : i] + detail.text[i + 1 : i + 2]
        if detail.counts[i] >= 3:  # a run of three or more: letter by letter
            letters = "".join(_drawn_alike(c, ch, capitals) for c in written)
            if letters != ch * len(letters):
                alike[i] = letters
        elif ch == "l" and (
            (set(raw) <= AMBIGUOUS_L and "l" in beside) or (written == "l" and capitals)
        ):
            alike[i] = "i"
        elif ch == "i" and ((written.isupper() and not capitals) or written == _PALOCHKA):
            alike[i] = "l"
        if len(alike) == _MAX_READINGS:
            break
    places = list(alike)
    for chosen in range(1, 1 << len(places)):
        yield _Runs.of(
            detail, start, end, {p: alike[p] for k, p in enumerate(places) if chosen >> k & 1}
        )


_PALOCHKA = "\u04cf"
"""The small Cyrillic palochka, a bar drawn as `l` or `I`: folded to `i`, read as `l` too."""


def _drawn_alike(written: str, folded: str, capitals: bool) -> str:
    """The letter, `i` or `l`, that one character of a run folded to `folded` may be read
    as: `1 ! |` as `i`, a capital I among lower-case letters as `l`, a lower-case `l` among
    capitals as `i`, any other as folded."""
    if written in AMBIGUOUS_L or (written == "l" and capitals):
        return "i"
    if folded == "i" and ((written.isupper() and not capitals) or written == _PALOCHKA):
        return "l"
    return folded


_WORDS = re.compile(r"[^\W\d_]+")  # words as written, for `is_english`


def _in_capitals(text: str, at: int) -> bool:
    """Whether the word around `text[at]` is written in capitals: two or more, and no
    lower-case letter but `l`."""
    start = end = at
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    word = text[start:end]
    return sum(c.isupper() for c in word) >= 2 and not any(c.islower() and c != "l" for c in word)


@lru_cache(maxsize=1 << 16)
def _spelling_runs(spelling: str) -> _Runs:
    """The runs of a term's spelling, made when a text first holds it: most terms are
    never found, and their runs cost more than the rest of compiling them."""
    folded = fold(spelling)
    return _Runs.of(folded.detail(), 0, len(folded.text))


def _term_parts(folded: str) -> tuple[tuple[str, bool], ...]:
    """How a folded term may stand in a folded text, as whole words, part by part: (the
    characters one text character may be there, whether it may be left out). Its words
    apart or run together (a space may be left out), a double letter also once (a run of
    three or more folds to one) and a single one also twice, `i` and `l` each also as the
    other (so an `i` and an `l` together may be one run of three, `k1ll`). The places
    found (`_occurrences`) are then checked against the text's runs and forms (`_Runs`,
    `_readings`)."""
    parts: list[tuple[str, bool]] = []
    previous = ""
    for ch in _with_articles_apart(folded):
        atom = "il" if ch in "il" else ch
        if ch == _ARTICLE_GAP:
            parts.append((" ", True))
        elif ch in {" ", previous} or (ch in "il" and previous in ("i", "l")):
            parts.append((atom, True))
        else:
            parts += [(atom, False), (atom, True)]
        previous = ch
    return tuple(parts)


_ARTICLE = re.compile("(?<![^ ])(\u0627\u0644)(?=[^ ]{2})")  # alef lam opening a word
_ARTICLE_GAP = "\x00"  # where the article may stand apart: no folded text holds a NUL


def _with_articles_apart(folded: str) -> str:
    """The folded term with a gap marked after the Arabic article `ال` that opens a word:
    it is written apart from its noun as well as joined (`ال قاعدة`)."""
    return _ARTICLE.sub(lambda m: m.group(1) + _ARTICLE_GAP, folded)


def _occurrences(
    parts: tuple[tuple[str, bool], ...], text: str, position: int = 0
) -> Iterator[tuple[int, int]]:
    """The spans of the folded text, from `position` on, where the term's parts stand as
    whole words, leftmost first and not overlapping; an optional part is taken where it can
    be, and left out where taking it leads nowhere (what a regex of the parts would find,
    without the cost of compiling one for each term: most terms are looked for once or
    never). Found as they are taken: a caller that stops at one has paid for the text up
    to it only."""
    tried: set[tuple[int, int]] = set()  # (part, position): explored, led nowhere
    size, last = len(text), len(parts)

    def end(start: int) -> int:
        """Where the parts end when they start at `start`, or -1: a depth-first search,
        taking an optional part before leaving it out."""
        stack = [(0, start)]
        while stack:
            k, j = stack.pop()
            if k == last:
                if j == size or text[j] == " ":
                    return j
                continue
            if (k, j) in tried:
                continue
            tried.add((k, j))
            chars, optional = parts[k]
            if optional:
                stack.append((k + 1, j))
            if j < size and text[j] in chars:
                stack.append((k + 1, j + 1))
        return -1

    starts = _word_starts(_lead(parts))
    while (at := starts.search(text, position)) is not None:
        stop = end(at.start())
        # a stop is a space or the end, after the start: a term's first part is no option
        position = at.start() + 1 if stop < 0 else stop
        if stop >= 0:
            yield at.start(), stop


_LEAD_LETTERS = 3
_LEAD_PARTS = 6


def _lead(parts: tuple[tuple[str, bool], ...]) -> tuple[tuple[str, bool], ...]:
    """The parts up to the term's third letter that cannot be left out (the first part is
    one): the words that start so are the only places it may stand. Searching for them
    rather than for the first letter alone keeps a post holding a thousand of a list's
    terms from being searched a thousand times for each. At most `_LEAD_PARTS` parts: a
    regex of many optional parts in a row (`i` and `l` after an `i` or `l`) backtracks
    exponentially where it fails."""
    needed = 0
    for k, (_, optional) in enumerate(parts[:_LEAD_PARTS]):
        needed += not optional
        if needed == _LEAD_LETTERS:
            return parts[: k + 1]
    return parts[:_LEAD_PARTS]


@lru_cache(maxsize=1 << 14)
def _word_starts(lead: tuple[tuple[str, bool], ...]) -> re.Pattern[str]:
    """Where a word starts with the parts `lead`."""
    pattern = "".join(f"[{re.escape(chars)}]{'?' if optional else ''}" for chars, optional in lead)
    return re.compile(f"(?<![^ ]){pattern}")


_SKELETON = str.maketrans({"i": "l"})
_PREFILTER = bytes.maketrans(b"i" + _MARKS.encode(), b"l" + b" " * len(_MARKS))
_DOUBLED_FROM = 6


_IDENTITY = bytes(range(256))


_MAX_GAPS = 5  # a term has 2 ** gaps literals; with more gaps: all apart or all joined


def _literals(term: str) -> list[bytes]:
    """The forms in which a folded term can stand in a folded text, for literal search in
    `_literal_form`: with `i` as `l` (either may stand for the other until a hit is
    confirmed), each two of its words apart or run together (an Arabic article opening a
    word also apart from it; a term with a word of one letter: all apart or all together),
    runs single."""
    pieces = re.split(f"[ {_ARTICLE_GAP}]", _with_articles_apart(term).translate(_SKELETON))
    gaps = len(pieces) - 1
    every = [(" ",) * gaps, ("",) * gaps]
    # a word of one letter is run together with the others only when all are ("i n the"
    # is not "in the")
    single = any(len(p) == 1 for p in pieces)
    choices = every if gaps > _MAX_GAPS or single else product((" ", ""), repeat=gaps)
    forms = (
        pieces[0] + "".join(g + p for g, p in zip(chosen, pieces[1:], strict=True))
        for chosen in choices
    )
    return list(
        dict.fromkeys(
            b" " + single_runs(f.encode("utf-8", "surrogatepass"), _IDENTITY) + b" " for f in forms
        )
    )


def _literal_form(words: bytes) -> bytes:
    """Where the term literals are sought: step-1 form with markers as spaces, `i` as
    `l`, every run of one byte single (of spaces too: the words of a literal are one space
    apart), no space at either end. Terms and texts are both sought in this form: a run of
    three or more stands for any run in a term, and a doubled letter may stand for a single
    one (`_Runs`), so a literal search that tells runs apart could not find them."""
    return single_runs(words, _PREFILTER)


def _texts_of(buffer: bytes, ends: Sequence[int]) -> list[int]:
    """The index of the text in which each hit lies, given where it ends (exclusive) in a
    buffer of texts apart by NULs: the number of NULs before its last byte."""
    separators = np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8) == 0)
    indexes: list[int] = np.searchsorted(separators, np.asarray(ends) - 1).tolist()
    return indexes


class _KeywordDatabase:
    """Three hyperscan databases for all folded terms: their literals, the triggers, and the
    consonants of their Roman Urdu spellings (`roman.Variant.literals`, sought in
    `roman.consonants` of the step-1 form, which names texts to confirm them in).

    The literals (`_literals`) are sought in the step-1 form with markers as spaces, `i`
    as `l` and runs of a byte single (`_literal_form`); the triggers in the step-1 form
    itself: a run of three of a letter outside ASCII, four one-letter words, a leetspeak
    symbol inside a word or a currency sign opening one, what only the full fold undoes. A
    hit of either means the text may hold a term; the literals then name the candidates in
    the fully folded text. The texts of many posts are scanned at once, apart by NULs
    (which `fast_words` leaves in no text).
    """

    def __init__(self, folded: Sequence[str], variants: Sequence[Variant]) -> None:
        literals: dict[bytes, list[int]] = {}
        for number, term in enumerate(folded):
            for literal in _literals(term):
                literals.setdefault(literal, []).append(number)
        # the literal form makes runs of one byte single, not runs of a character of more
        alphabet = sorted({ch for t in folded for ch in t if not ch.isascii()})
        triggers = [*_TRIGGERS, *(re.escape(ch * 3) for ch in alphabet)]
        self._terms = list(literals.values())
        self._first_run = len(_TRIGGERS)
        self._literals = _compile([re.escape(x) for x in literals], 0)
        self._triggers = _compile(triggers, hyperscan.HS_FLAG_UTF8)
        self._variants: list[list[int]] = []
        self._rows = [self._row_database(variants, shaped) for shaped in (True, False)]

    def saved(self) -> _SavedKeywords:
        return _SavedKeywords(
            self._terms,
            self._first_run,
            hyperscan.dumpb(self._literals),
            hyperscan.dumpb(self._triggers),
            self._variants,
            [None if row is None else (hyperscan.dumpb(row[0]), *row[1:]) for row in self._rows],
        )

    @classmethod
    def restored(cls, saved: _SavedKeywords) -> _KeywordDatabase:
        """Raises `hyperscan.error` for a database that cannot be loaded here."""
        self = cls.__new__(cls)
        self._terms = saved.terms
        self._first_run = saved.first_run
        self._literals = _loaded(saved.literals)
        self._triggers = _loaded(saved.triggers)
        self._variants = saved.variants
        self._rows = [None if row is None else (_loaded(row[0]), *row[1:]) for row in saved.rows]
        return self

    def _row_database(
        self, variants: Sequence[Variant], shaped: bool
    ) -> tuple[hyperscan.Database, bytes, int] | None:
        """The rows of the variants of one kind (`roman.shape` or `roman.consonants`) as a
        literal database, with the byte table of its form and the number of its first
        pattern's variants in `_variants`."""
        rows: dict[bytes, list[int]] = {}
        for number, spellings in enumerate(variants):
            if spellings.shaped is shaped:
                for row in spellings.literals:
                    rows.setdefault(row, []).append(number)
        if not rows:
            return None
        first = len(self._variants)
        self._variants += rows.values()
        table = SHAPE if shaped else SKELETON
        return _compile([re.escape(row) for row in rows], 0), table, first

    def suspects(self, text: Callable[[int], str], words: bytes) -> set[int]:
        """The texts that may hold a term, by index, given their step-1 forms (`words`:
        `fast_words_many`) and the text of each index; never misses one that does
        (property-tested). A text whose only trigger is runs of three is named only if it
        holds a literal once they are folded (stretching is common and seldom part of a
        term)."""
        named = self._literal_texts(words) | self._spelled_texts(words)
        triggers: dict[int, bool] = {}  # where a trigger ends: whether all there are runs

        def collect(pattern: int, _from: int, end: int, _flags: int, _ctx: object) -> None:
            triggers[end] = triggers.get(end, True) and pattern >= self._first_run

        self._triggers.scan(words, match_event_handler=collect)
        if not triggers:
            return named
        stretched: dict[int, bool] = {}
        for index, runs in zip(_texts_of(words, list(triggers)), triggers.values(), strict=True):
            stretched[index] = stretched.get(index, True) and runs
        named.update(i for i, runs in stretched.items() if not runs)
        candidates = [i for i, runs in stretched.items() if runs and i not in named]
        if candidates:
            folded_runs = b" \x00 ".join(
                _RUNS.sub(first, fast_words(text(i)).decode("utf-8", "surrogatepass")).encode(
                    "utf-8", "surrogatepass"
                )
                for i in candidates
            )
            named.update(candidates[k] for k in self._literal_texts(folded_runs))
        return named

    def _literal_texts(self, words: bytes) -> set[int]:
        """Indexes of the texts (step-1 forms apart by NULs) that hold a literal."""
        form = _literal_form(words)
        ends: list[int] = []

        def collect(_pattern: int, _from: int, end: int, _flags: int, _ctx: object) -> None:
            ends.append(end - 1)  # the buffer starts with a space that `form` has not

        self._literals.scan(b" " + form + b" ", match_event_handler=collect)
        if not ends:
            return set()
        return set(_texts_of(form, ends))

    def _spelled_texts(self, words: bytes) -> set[int]:
        """Indexes of the texts (step-1 forms apart by NULs) that hold the rows of a term's
        Roman Urdu spellings, as whole words."""
        named: set[int] = set()
        for database, table, _ in filter(None, self._rows):
            form = squeezed(words, table)
            ends: list[int] = []

            def collect(_pattern: int, _from: int, end: int, _flags: int, _ctx: object) -> None:
                ends.append(end - 1)  # noqa: B023 - the buffer starts with a space form has not

            database.scan(b" " + form + b" ", match_event_handler=collect)
            named.update(_texts_of(form, ends) if ends else ())
        return named

    def candidates(self, folded: str) -> tuple[list[int], list[int]]:
        """Numbers of the terms one of whose literals is in the folded text, and of the
        terms whose Roman Urdu spellings' consonants are."""
        found: set[int] = set()
        spelled: set[int] = set()

        def collect(pattern: int, _from: int, _end: int, _flags: int, _ctx: object) -> None:
            found.update(self._terms[pattern])

        form = single_runs(folded.translate(_SKELETON).encode("utf-8", "surrogatepass"), _IDENTITY)
        self._literals.scan(b" " + form + b" ", match_event_handler=collect)
        text = folded.encode("utf-8", "surrogatepass")
        for database, table, offset in filter(None, self._rows):

            def collect_rows(
                pattern: int, _from: int, _end: int, _flags: int, _ctx: object, at: int = offset
            ) -> None:
                spelled.update(self._variants[at + pattern])

            database.scan(b" " + squeezed(text, table) + b" ", match_event_handler=collect_rows)
        return sorted(found), sorted(spelled)


_DIGRAPHS = {"f": "ph", "w": "vv", "\u067e": "\u0628", "\u0686": "\u062c", "\u0698": "\u0632"}
_MAX_DIGRAPHS = 3  # a term has 2 ** places spellings; with more places: none or all


def _spellings(term: str) -> list[str]:
    """The term and its spellings with letters written as two that folding leaves apart
    (`ph` for `f`, `vv` for `w`), and with the Persian and Urdu letters that an Arabic
    keyboard lacks typed as the Arabic ones (peh, tcheh, jeh as beh, jeem, zain), each place
    alone and together: they are sought as terms of their own, with hits named after the
    term. One way only: `پاس` is also sought as `باس`, not `باس` as `پاس` (folding them
    together would make 20 pairs of the words of the Urdu and Arabic sentences one word,
    `اپنا`/`ابنا` and `پاس`/`باس` among them)."""
    places = [i for i, ch in enumerate(term) if ch.lower() in _DIGRAPHS]
    if len(places) > _MAX_DIGRAPHS:
        choices: list[tuple[int, ...]] = [tuple(places)]
    else:
        choices = [c for n in range(1, len(places) + 1) for c in combinations(places, n)]
    return [term] + [
        "".join(_DIGRAPHS[ch.lower()] if i in chosen else ch for i, ch in enumerate(term))
        for chosen in choices
    ]


_TURNED_FROM = 2
# one of these between two letters may be punctuation put into a word ("ex.ample") as well
# as between two words ("pro-example")
_MID_WORD_MARKS = ".-*_·+|\u060c\u06d4"  # ... the Arabic comma, the Urdu full stop
_MID_WORD_SYMBOLS = (
    # and emoji and symbols put into a word ("exa🔥mple"): arrows, geometric shapes, the
    # miscellaneous symbols and dingbats, and the emoji blocks (not the enclosed letters
    # before them, which fold to letters)
    (0x2190, 0x21FF),
    (0x25A0, 0x27BF),
    (0x2B00, 0x2BFF),
    (0x1F300, 0x1FAFF),
)
_MARK_CLASS = re.escape(_MID_WORD_MARKS) + "".join(
    f"{chr(low)}-{chr(high)}" for low, high in _MID_WORD_SYMBOLS
)
_LETTERS = re.compile(r"[^\W\d_]+")  # the letters of the pattern below
# (the mark comes first in the pattern, so that the search skips to marks at C speed)
_MID_WORD = re.compile(f"[{_MARK_CLASS}](?<=[^\\W\\d_][{_MARK_CLASS}])(?=[^\\W\\d_])")
_ZERO_WIDTH = "\u200b"


# upside-down writing: the letter each character stands for when the text is turned the
# right way up (read backwards); letters that look the same turned (o, s, x, z, l) stay
_TURNED = str.maketrans(
    {
        **dict(zip("ɐqɔpǝɟƃɓɥᴉıɾʞןɯunɹʇʌʍʎbd", "abcdefgghiijklmnurtvwyqp", strict=True)),  # noqa: RUF001 - turned letters on purpose
        **dict(zip("∀ꓭƆꓷƎℲ⅁ſꓘ˥Ԁꓤꓕ⊥∩ΛW⅄M", "abcdefgjklprttuvmyw", strict=True)),
        **dict(zip("ƖᄅƐㄣϛ9ㄥ6", "12345679", strict=True)),
    }
)
# characters that stand turned and hardly occur otherwise: two of them make a text be read
# turned too
_TURNED_ONLY = "ɐǝɟƃɥᴉɾʞɯɹʇʌʍʎ∀ꓭƆꓷƎℲ⅁ꓘ˥ԀꓤꓕΛ⅄"


@cache
def _classes() -> npt.NDArray[np.uint8]:
    """The classes `fast_words_many` finds: a letter (of `_MID_WORD`), one of its marks, one
    of the characters of `_TURNED_ONLY`."""
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    classes = np.zeros(0x110000, dtype=np.uint8)
    for letters in _LETTERS.finditer(every):  # a few hundred runs
        classes[letters.start() : letters.end()] = LETTER
    classes[[ord(ch) for ch in _MID_WORD_MARKS]] = MARK
    for low, high in _MID_WORD_SYMBOLS:
        classes[low : high + 1] = MARK
    classes[[ord(ch) for ch in _TURNED_ONLY]] |= TURNED
    return classes


@dataclass(frozen=True, slots=True)
class _Forms:
    """The forms of texts that keywords are sought in: each text; a text with punctuation
    between letters also without it (as zero-width spaces, which folding removes, so that
    offsets into it are offsets into the text); a text written upside down also turned the
    right way up (read backwards, one character for one: offset i of the form is offset
    n - 1 - i of the text). `words` holds the step-1 forms of all, in that order, from
    `fast_words_many`; the form itself is made when asked for (`text`), which few are."""

    texts: Sequence[str]
    origin: list[int]  # the text each form is a form of
    turned: dict[int, str]  # the forms that are a text read backwards
    words: bytes

    @classmethod
    def of(cls, texts: Sequence[str]) -> _Forms:
        words = fast_words_many(texts, _classes())
        origin = [*range(len(texts)), *np.flatnonzero(words.marked).tolist()]
        form = words.form + b" \x00 " + words.unmarked if words.unmarked else words.form
        turned: dict[int, str] = {}
        for i in np.flatnonzero(words.turned >= _TURNED_FROM).tolist():
            turned[len(origin)] = texts[i][::-1].translate(_TURNED)
            origin.append(i)
        if turned:
            form += b" \x00 " + fast_words_many(list(turned.values()), _classes()).form
        return cls(texts, origin, turned, form)

    def text(self, k: int) -> str:
        if k < len(self.texts):
            return self.texts[k]
        if k in self.turned:
            return self.turned[k]
        return _MID_WORD.sub(_ZERO_WIDTH, self.texts[self.origin[k]])


_SENTENCE_END = re.compile(
    r"(?:(?<!\.)\.(?!\.)|[!?\u06d4\u061f\u3002\u0964]+)[\"'\u201d\u2019)\]]*\s"
)  # an ellipsis ("...") is a pause, not an end


def _lettered(text: str, span: tuple[int, int]) -> bool:
    """Whether the text at `span` is written in more letters than digits: leetspeak reads
    digits as letters, but a number (`281`) is no word a spelling stands for."""
    written = text[span[0] : span[1]]
    return sum(c.isalpha() for c in written) > sum(c.isdigit() for c in written)


def _across_sentences(folded: Folded, start: int, end: int) -> bool:
    """Whether a sentence ends between two words of the folded span [start, end): a full
    stop (not an ellipsis), question or exclamation mark (Latin, Arabic, Urdu, CJK,
    Devanagari) followed by a space (`...the red river. Brigade of...`). Where a mark
    stands between every two of three or more words (`Red. River. Brigade.`), or also
    inside the word before it (`e.x.a.m.p.l.e. f.r.o.n.t`, `U.S. Brigade`), it is the
    disguise or an abbreviation, not an end."""
    gaps = [k for k in range(start, end) if folded.text[k] == " "]
    if not gaps:
        return False
    detail, original = folded.detail(), folded.original
    ends = 0
    for k in gaps:
        found = _SENTENCE_END.search(original[detail.ends[k - 1] : detail.starts[k + 1]])
        word = folded.text.rfind(" ", start, k) + 1 or start
        ends += (
            found is not None
            and found[0][0] not in original[detail.starts[word] : detail.ends[k - 1]]
        )
    return ends > 0 and (ends < len(gaps) or len(gaps) < 2)


def _backwards(hits: list[Hit], length: int) -> list[Hit]:
    """Hits in a text read backwards, with spans of the text itself."""
    return [Hit(hit.index, hit.key, (length - hit.span[1], length - hit.span[0])) for hit in hits]


class TextMatcher:
    """Finds keyword terms and regexes in texts; compiled once, shared by all posts."""

    def __init__(
        self,
        terms: Iterable[str],
        regexes: Iterable[str] = (),
        *,
        cache: CompileCache | None = None,
    ) -> None:
        """Compiles the terms and regexes, or loads them from `cache` where they were
        compiled before (and stores them there when they were not)."""
        unique = tuple(dict.fromkeys(terms))
        self.regexes = tuple(dict.fromkeys(regexes))
        if cache is None:
            self._compile(unique)
        else:
            key = msgspec.msgpack.encode((engine_id(), unique, self.regexes))
            if not cache.load("text", key, self._restore):
                self._compile(unique)
                cache.put("text", key, msgspec.msgpack.encode(self._saved()))
        self.keywords([""])  # builds the prefilter's tables and loads its compiled loops now
        self._regex_spans = tuple(_span_regex(p) for p in self.regexes)

    def _compile(self, terms: tuple[str, ...]) -> None:
        written: dict[str, list[tuple[str, str]]] = {}  # folded -> (term, spelling)
        for term in terms:
            for spelling in _spellings(term):
                same = written.setdefault(fold(spelling).text, [])
                if all(other != term for other, _ in same):  # two spellings, one fold
                    same.append((term, spelling))
        self._folded = tuple(written)
        self._written = tuple(written.values())
        self._variants = tuple(
            (term, found) for term in terms if (found := variant(term, fold(term).text)) is not None
        )
        self._keywords = (
            _KeywordDatabase(self._folded, [v for _, v in self._variants]) if self._folded else None
        )
        patterns = [_as_clean(p) for p in self.regexes]
        self._regex_db = _compile(patterns, _REGEX_FLAGS) if patterns else None

    def _saved(self) -> _Saved:
        return _Saved(
            self._folded,
            self._written,
            self._variants,
            None if self._keywords is None else self._keywords.saved(),
            None if self._regex_db is None else hyperscan.dumpb(self._regex_db),
        )

    def _restore(self, payload: bytes) -> bool:
        """Take the compiled state from a cache entry; False if it cannot be used here."""
        try:
            saved = msgspec.msgpack.decode(payload, type=_Saved)
            keywords = None if saved.keywords is None else _KeywordDatabase.restored(saved.keywords)
            regex_db = None if saved.regexes is None else _loaded(saved.regexes)
        except (msgspec.DecodeError, hyperscan.error):
            return False
        self._folded = saved.folded
        self._written = saved.written
        self._variants = saved.variants
        self._keywords = keywords
        self._regex_db = regex_db
        return True

    def keywords(self, texts: Sequence[str]) -> list[Hit]:
        """Every whole-word occurrence of a term in the texts, in order of text and span."""
        keywords = self._keywords
        if keywords is None:
            return []
        forms = _Forms.of(texts)
        hits: set[Hit] = set()
        for index in keywords.suspects(forms.text, forms.words):
            form = forms.text(index)
            folded = fold(form)
            terms, variants = keywords.candidates(folded.text)
            origin = forms.origin[index]
            found = [hit for t in terms for hit in self._confirm(origin, folded, t)]
            if variants:
                found += self._spelled(origin, folded, variants)
            hits.update(_backwards(found, len(form)) if index in forms.turned else found)
        return sorted(hits, key=lambda h: (h.index, h.span, h.key))

    def _confirm(self, index: int, folded: Folded, number: int) -> list[Hit]:
        term = self._folded[number]
        hits: list[Hit] = []
        parts = _term_parts(term)
        position = 0
        # an occurrence that is not the term's hides none that overlaps it: the search goes
        # on from the word after its start (`e ee` in `e e ee`, behind `e e`)
        while True:
            for start, end in _occurrences(parts, folded.text, position):
                confirmed = (
                    []
                    if _across_sentences(folded, start, end)
                    else self._stands(index, folded, number, start, end)
                )
                if not confirmed:
                    position = start + 1
                    break
                hits.extend(confirmed)
            else:
                return hits

    def _stands(self, index: int, folded: Folded, number: int, start: int, end: int) -> list[Hit]:
        """The hits of term `number` where its parts stand at `start:end` of the folded
        text, one for each of its written forms the original characters stand for."""
        span = folded.to_original(start, end)
        words, term_words = folded.text[start:end].split(), self._folded[number].split()
        as_written = _WORDS.findall(folded.original[span[0] : span[1]].casefold())
        if words != term_words and any(is_english(w) and w not in term_words for w in as_written):
            return []  # words run together or a letter doubled into an English word (therapist)
        for runs in _readings(folded, start, end):
            hits = [
                Hit(index, written, span)
                for written, spelling in self._written[number]
                if runs.stands_for(_spelling_runs(spelling))
            ]
            if hits:
                return hits
        return []

    def _spelled(self, index: int, folded: Folded, numbers: list[int]) -> list[Hit]:
        """The places where terms stand in one of their Roman Urdu spellings."""
        keys, words = keys_of(folded.text)
        keyed = keys.split(" ")
        starts = list(accumulate((len(k) + 1 for k in keyed), initial=0))
        hits = []
        for number in numbers:
            term, spellings = self._variants[number]
            for found in spellings.keys.finditer(keys):
                first = bisect_right(starts, found.start()) - 1
                last = bisect_right(starts, found.end() - 1) - 1
                start, end = words[first][0], words[last][1]
                span = folded.to_original(start, end)
                if (
                    not _across_sentences(folded, start, end)
                    and _lettered(folded.original, span)
                    # an English word is no romanisation of an Urdu one (entire, nature)
                    and (spellings.shaped or not all(map(is_english, keyed[first : last + 1])))
                ):
                    hits.append(Hit(index, term, span))
        return hits

    def regex(self, texts: Sequence[str]) -> list[Hit]:
        """Every match of a regex in the clean form of the texts, leftmost start each."""
        if self._regex_db is None:
            return []
        hits: list[Hit] = []
        for index, text in enumerate(texts):
            if not text:
                continue
            cleaned = clean(text)
            matched: set[int] = set()

            def collect(pattern: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
                matched.add(pattern)  # noqa: B023 - called within this iteration

            self._regex_db.scan(cleaned.text.encode("utf-8"), match_event_handler=collect)
            for pattern in sorted(matched):
                found = self._regex_spans[pattern].search(cleaned.text)
                if found is not None:  # both engines agree; this guards a difference of dialect
                    span = cleaned.to_original(found.start(), found.end())
                    hits.append(Hit(index, self.regexes[pattern], span))
        hits.sort(key=lambda h: (h.index, h.span, h.key))
        return hits
