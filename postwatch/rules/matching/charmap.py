"""Per-character folding tables: what every code point becomes before matching.

Two tables, both built once (lazily, ~0.3 s) and used with `str.translate`:

- `clean_table()`: Unicode compatibility decomposition (NFKD, so what NFKC folds is folded),
  combining marks dropped (diacritics, Arabic harakat), case folding, homoglyphs mapped to
  their Latin prototype by Unicode's confusables data (`data/confusables-14.0.0-latin.txt`,
  UTS #39 v14.0.0, the Unicode version of this Python's `unicodedata`), Arabic-script letter
  variants folded (tatweel, hamza forms, Arabic/Persian/Urdu kaf, yeh and heh, teh marbuta),
  digits of every script to ASCII digits, invisible characters (zero-width, soft hyphen,
  bidi controls, variation selectors, tag characters) removed, and every space to " ".
  Punctuation and symbols stay: regexes run on this form.
- `word_table()`: the clean form, then leetspeak digits to letters, the leetspeak symbols
  (`@ $ ! | + € ¢ ©`) to upper-case ASCII marker letters (case folding guarantees no other
  upper-case letter is left), and everything that is not a letter, digit or spacing mark to
  " ". Keyword matching starts from this form (see `normalize`).

`step1_table()` is the word form as arrays, for the compiled passes of `normalize` (in
`_fold_kernels`), with the codes DROPPED and EXPANDED in it; LETTER, MARK and TURNED are
the classes of characters that the step-1 pass counts.

Code points above U+1FFFF other than tags and variation selectors (CJK extensions, private
use) are letters or unassigned and pass through unchanged.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources
from itertools import accumulate

import msgspec
import numpy as np
import numpy.typing as npt

from postwatch.rules.matching.cache import CompileCache, engine_id

__all__ = [
    "AMBIGUOUS_L",
    "CURRENCY_LETTERS",
    "DROPPED",
    "EXPANDED",
    "LEET_DIGITS",
    "LEET_SYMBOLS",
    "LETTER",
    "MARK",
    "MARKERS",
    "TURNED",
    "clean_table",
    "is_word_char",
    "step1_table",
    "tables_from",
    "word_table",
]

LEET_DIGITS = {
    "0": "o",
    "1": "l",
    "2": "z",
    "3": "e",
    "4": "a",
    "5": "s",
    "6": "g",
    "7": "t",
    "8": "b",
    "9": "g",
}
"""Digits read as letters inside words (`1` also stands for `i`: see AMBIGUOUS_L)."""

LEET_SYMBOLS = {"@": "a", "$": "s", "!": "l", "|": "l", "+": "t", "€": "e", "¢": "c", "©": "c"}
"""Symbols read as letters when they stand inside a word (`!` and `|` also stand for `i`)."""

CURRENCY_LETTERS = frozenset("SEC")
"""Markers (of `$`, `€`, `¢`/`©`) that are letters at either end of a word too (`$ample`,
`exampl€`); other symbols there are separators (`@user`, `front!`)."""

AMBIGUOUS_L = frozenset("1!|")
"""Characters folded to `l` that a writer may have meant as `i`; a keyword's `i` may match
them (and only them) where its folded form has `l`."""

MARKERS = {symbol: letter.upper() for symbol, letter in LEET_SYMBOLS.items()}

_INVISIBLE_EXTRA = {0x0640, 0x0621, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5, 0x2800}
# tatweel (kashida) and the bare hamza are dropped like harakat; Hangul fillers and Khmer
# inherent vowels render as nothing and are used to pad words apart; the blank braille
# pattern shows nothing either

_ARABIC = {
    # alef forms (hamza above/below and madda also go through NFKD and mark removal)
    "\u0671": "\u0627",  # alef wasla
    "\u0672": "\u0627",
    "\u0673": "\u0627",
    "\u0675": "\u0627",
    # kaf: Persian/Urdu keheh, swash kaf -> Arabic kaf
    "\u06a9": "\u0643",
    "\u06aa": "\u0643",
    "\u06ab": "\u0643",  # kaf with ring (Pashto)
    # yeh: Farsi yeh, alef maksura, Urdu yeh barree, yeh with tail -> Arabic yeh
    "\u06cc": "\u064a",
    "\u0649": "\u064a",
    "\u06d2": "\u064a",
    "\u06cd": "\u064a",
    "\u06d0": "\u064a",
    "\u06ce": "\u064a",  # yeh with small v (Kurdish)
    # waw with small v (Kurdish) -> waw
    "\u06c6": "\u0648",
    # heh: heh goal, heh doachashmee, ae -> heh; teh marbuta (and goal) -> heh
    "\u06c1": "\u0647",
    "\u06be": "\u0647",
    "\u06d5": "\u0647",
    "\u06c3": "\u0647",
    "\u0629": "\u0647",
    # noon ghunna (Urdu), written as noon where a keyboard lacks it
    "\u06ba": "\u0646",
    # letters written without their dots (the rasm): dotless beh, qaf and feh
    "\u066e": "\u0628",
    "\u066f": "\u0642",
    "\u06a1": "\u0641",
}

_DIGRAPH_LETTERS = {"š": "sh", "č": "ch", "ž": "zh"}
"""Letters of the scholarly transliterations (of Urdu, Arabic, Persian) that stand for two
Latin letters in the spellings people type (`šahid` is `shahid`); upper case too."""

_LOOKALIKES = {
    # Greek and Cyrillic letters written for Latin ones whose UTS #39 prototype is not a
    # Latin letter (ε is "confusable" only with ɛ); postwatch's own additions
    "ε": "e",
    "ɛ": "e",
    "κ": "k",
    "τ": "t",
    "ω": "w",
    "χ": "x",
    "к": "k",
    "т": "t",
    "п": "n",
    "ь": "b",
    "в": "b",
    "н": "h",
    "м": "m",
    "ш": "w",
    "з": "3",
    "ғ": "f",  # the F of "small capitals" text generators (its prototype is r with a stroke)
}

_FIRST = 0x20000
_EXTRA_RANGES = (range(0xE0000, 0xE0080), range(0xE0100, 0xE01F0))


def _confusables() -> dict[str, str]:
    text = resources.files(__package__).joinpath("data/confusables-14.0.0-latin.txt")
    table: dict[str, str] = {}
    for line in text.read_text(encoding="utf-8").splitlines():
        body = line.split("#", 1)[0].strip()
        if body:
            source, target, _ = (part.strip() for part in body.split(";"))
            table[chr(int(source, 16))] = "".join(chr(int(h, 16)) for h in target.split())
    return table


def _strip(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():
        return decomposed
    return "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Me"))


def _named_letter(ch: str) -> str | None:
    """The Latin letter that a symbol or small capital without a decomposition is drawn
    as (🅴, 🆇, ᴇ, ꜰ; a regional indicator 🇪 as a word of its own), read from its
    Unicode name."""
    name = unicodedata.name(ch, "")
    words = name.split()
    if words[:3] == ["REGIONAL", "INDICATOR", "SYMBOL"]:
        # they spell words (🇪🇽🇦🇲🇵🇱🇪) as well as flags (🇵🇰): each is a one-letter word,
        # which `normalize` joins where four or more stand in a row, so that a flag written
        # against a word ("front🇺🇸") stays apart from it
        return f" {words[-1].lower()} "
    if "LATIN" in words and "LETTER" in words and len(words[-1]) == 1:
        return words[-1].lower()
    return None


def _latin_letters(ch: str, confusables: dict[str, str]) -> str | None:
    """The Latin letters of a transliteration letter (`_DIGRAPH_LETTERS`), or of a capital
    drawn as a Latin capital: Greek capital beta, eta and nu are B, H and N, which the
    look-alikes of their lower case (beta for sharp s, eta for n, nu for v) would miss."""
    if ch.casefold() in _DIGRAPH_LETTERS:
        return _DIGRAPH_LETTERS[ch.casefold()]
    prototype = confusables.get(_strip(ch), confusables.get(ch, ""))
    if len(prototype) == 1 and "A" <= prototype <= "Z":
        return prototype.lower()
    return None


def _clean_char(ch: str, confusables: dict[str, str]) -> str:
    cp = ord(ch)
    category = unicodedata.category(ch)
    if cp in _INVISIBLE_EXTRA or category == "Cf":
        return ""
    if ch.isspace():
        return " "
    if ch in _LOOKALIKES:
        return _LOOKALIKES[ch]
    if category == "So" or (category == "Ll" and "SMALL CAPITAL" in unicodedata.name(ch, "")):
        # a symbol drawn as a letter (U+212E estimated, U+237A APL alpha) or a Greek small
        # capital (U+1D26 gamma, drawn as r): as the data says
        drawn = confusables.get(ch, "")
        letter = len(drawn) == 1 and drawn.isascii() and drawn.isalpha()
        return _named_letter(ch) or (drawn.lower() if letter else ch)
    if (
        category in ("Lo", "Cn", "Co")
        and ch not in confusables
        and ch not in _ARABIC
        and unicodedata.normalize("NFKD", ch) == ch
    ):
        return ch  # the bulk: letters without case, unassigned, private use
    found = _latin_letters(ch, confusables) or _prototype(ch, confusables)
    return _base_letter(found) or found


def _base_letter(ch: str) -> str | None:
    """The Latin letter of a letter with a stroke, hook or bar that has no decomposition
    (`ⱥ`, `ꞩ`, `ɲ`), read from its Unicode name; None for anything else."""
    words = unicodedata.name(ch, "").split() if len(ch) == 1 and not ch.isascii() else []
    if words[:1] == ["LATIN"] and "LETTER" in words and "WITH" in words:
        letter = words[words.index("LETTER") + 1]
        return letter.lower() if len(letter) == 1 else None
    return None


def _prototype(ch: str, confusables: dict[str, str]) -> str:
    """A letter's form by case folding, decomposition and the confusables data."""
    # case folding first so that a look-alike's lower-case form is what the data is asked
    # for; an upper-case-only look-alike (Cyrillic capital ve for B) falls back to its own entry
    folded = _strip(ch).casefold()
    own = confusables.get(ch, "")
    if own and (
        folded not in confusables or (ch.islower() and own.isascii() and not folded.isascii())
    ):
        # and a small letter whose case folding leaves Latin (U+03F2 lunate sigma, drawn
        # as c, folds to sigma, drawn as o) is what its own entry says
        folded = own
    while True:  # a prototype may decompose or case-fold again
        again = "".join(confusables.get(c, c) for c in _strip(folded).casefold())
        if again == folded:
            break
        folded = again
    if folded.isascii():
        return folded
    out = []
    for part in folded:
        c = _LOOKALIKES.get(part) or _ARABIC.get(part, part)
        if unicodedata.category(c) == "Cf" or ord(c) in _INVISIBLE_EXTRA:
            continue
        digit = unicodedata.decimal(c, None)
        out.append(str(digit) if digit is not None else " " if c.isspace() else c)
    return "".join(out)


def is_word_char(ch: str) -> bool:
    """Letters, digits and spacing marks make words; everything else separates them."""
    return ch.isalnum() or unicodedata.category(ch) == "Mc"


def _word_char(ch: str) -> str:
    if ch in LEET_DIGITS:
        return LEET_DIGITS[ch]
    if ch in MARKERS:
        return MARKERS[ch]
    return ch if is_word_char(ch) else " "


def _code_points() -> list[int]:
    surrogates = range(0xD800, 0xE000)
    return [
        *(cp for cp in range(_FIRST) if cp not in surrogates),
        *(cp for r in _EXTRA_RANGES for cp in r),
    ]


_TABLES: dict[str, dict[int, str]] = {}  # "clean" and "word", built once a process


def clean_table() -> dict[int, str]:
    """Code point -> clean form (see the module doc).

    Total below U+20000, identities included: a missing key costs `str.translate` a raised
    and caught KeyError, ten times the cost of a hit.
    """
    if "clean" not in _TABLES:
        confusables = _confusables()
        _TABLES["clean"] = {cp: _clean_char(chr(cp), confusables) for cp in _code_points()}
    return _TABLES["clean"]


def word_table() -> dict[int, str]:
    """Code point -> word form (see the module doc); total like `clean_table`."""
    if "word" not in _TABLES:
        _TABLES["word"] = {
            cp: "".join(_word_char(c) for c in clean) for cp, clean in clean_table().items()
        }
    return _TABLES["word"]


def tables_from(cache: CompileCache) -> None:
    """Take `clean_table` and `word_table` from the compile cache (they take longer to build
    than the rest of a start), or build them and store them there; once a process."""
    if "word" in _TABLES:
        return
    key = engine_id()

    def use(payload: bytes) -> bool:
        try:
            clean, word = msgspec.msgpack.decode(
                payload, type=tuple[dict[int, str], dict[int, str]]
            )
        except msgspec.DecodeError:
            return False
        _TABLES.update(clean=clean, word=word)
        return True

    if not cache.load("tables", key, use):
        cache.put("tables", key, msgspec.msgpack.encode((clean_table(), word_table())))


DROPPED = 0xFFFFFFFF
"""In `step1_table()`: a character whose step-1 form is empty."""
EXPANDED = 0x80000000
"""In `step1_table()`: EXPANDED | k, a character whose step-1 form is the k-th expansion."""
LETTER, MARK, TURNED = 1, 2, 4
"""Classes of a character in a table given to `normalize.fast_words_many`, which it counts
per text."""


@cache
def step1_table() -> tuple[
    npt.NDArray[np.uint32], npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """`word_table()` as arrays (step 1 of `normalize`, for its compiled passes): code
    point -> its step-1 character (itself where `word_table` has no entry), DROPPED, or
    EXPANDED | k; the expansions, UTF-8, one after the other, with where each starts (and
    where the last ends); and how many characters each has."""
    table = np.arange(0x110000, dtype=np.uint32)
    words = word_table()
    expansions: list[str] = []
    values: list[int] = []
    for word in words.values():
        if len(word) == 1:
            values.append(ord(word))
        elif not word:
            values.append(DROPPED)
        else:
            values.append(EXPANDED | len(expansions))
            expansions.append(word)
    table[np.fromiter(words, dtype=np.uint32, count=len(words))] = values
    encoded = [expansion.encode("utf-8") for expansion in expansions]
    starts = np.fromiter(accumulate(map(len, encoded), initial=0), dtype=np.int64)
    lengths = np.fromiter(map(len, expansions), dtype=np.int64, count=len(expansions))
    return table, np.frombuffer(b"".join(encoded), dtype=np.uint8), starts, lengths
