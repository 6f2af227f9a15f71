"""Roman Urdu: the spellings of one Urdu word in Latin letters, made one key.

Urdu is most often written on social media in Latin letters, with no agreed spelling:
`Jaish-e-Mohammed`, `Jaish-i-Muhammad` and `JaisheMohammad` are one name. `key(word)` maps
a folded word (see `normalize`) to a key that its common spellings share:

- long vowels written doubled or not: `ee` is `i`, `oo` is `u`, `aa` is `a`;
- `o` for `u` and `y` for `i`; `e`, written for a short a (`Tehreek`) and for a short i
  (`Taleban`, `Mujahedeen`), stays in the key, and a term's pattern lets it stand for
  either and either for it (`_VOWELS`);
- `kh` and `q` for `k`, `gh` for `g`, `ph` for `f`, `w` for `v`, the aspirates `jh`, `bh`,
  `dh`, `th` with their `h` or without (`Jhangvi`, `Jangvi`);
- a letter doubled or not (`Muhammad`, `Muhamad`), a final `h` after a vowel (`Taibah`),
  the final `e`, `ay`, `ai` or `ey` of bari-ye (`karenge`, `karengay`);

and, between the words of a name, the izafat (`-e-`, `-i-`, or joined: `Jaishe`) and the
Arabic article (`-ul-`, `-ud-`, `-al-`, ...) may be written or left out, joined to either
word or apart; where a term has one, any other may stand there (`Jamaat-ud-Dawa`, `Jamaat
ul Dawa`), and a term's word that ends in the article (`Hizbul`) has it as one.

A keyword term is sought in these spellings as well as its own (`TextMatcher`): each word of
four letters or more by its key, in the term and in the text, except ordinary English words
(the lower-case words of SCOWL, `data/english-words-scowl-*.txt.gz`: `wolf` is not `volf`,
`example` not `exxampple`) and shorter words (`bin` is not `ban`), which stay as written; a
term written in Urdu or Arabic script also in Latin letters, by the transliteration table
`URDU_LETTERS` (`data/urdu-romanisation.tsv`, after the Urdu alphabet's romanisation in the
ALA-LC tables and the spellings of Roman Urdu in common use): its consonants as written,
the short vowels that the script leaves out wherever one may stand.

`Variant` holds a term's pattern over keys, which confirms a hit, and the rows that every
spelling it confirms holds, as whole words apart or joined, which the matcher's prefilter
seeks as literals: for a Latin term its `SHAPE` (consonants, and `a` where vowels stand),
for an Urdu-script one its `SKELETON` (its short vowels are not written); `h` is left out,
as `key` makes it of no account. A term with fewer than four consonants is sought as written
only.
"""

# ruff: noqa: RUF001 - Arabic-script letters, on purpose
from __future__ import annotations

import gzip
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from itertools import product

from postwatch.rules.matching.charmap import LEET_SYMBOLS, MARKERS

__all__ = [
    "MIN_CONSONANTS",
    "SHAPE",
    "SHORT",
    "SKELETON",
    "URDU_LETTERS",
    "Variant",
    "is_english",
    "key",
    "keys_of",
    "variant",
]

_DIGRAPHS = (
    ("ee", "i"),
    ("oo", "u"),
    ("kh", "k"),
    ("gh", "g"),
    ("ph", "f"),
    ("jh", "j"),  # the aspirates, written with their h or not (Jhangvi, Jangvi)
    ("bh", "b"),
    ("dh", "d"),
    ("th", "t"),
)
_LETTERS = str.maketrans({"q": "k", "w": "v", "y": "i", "o": "u"})
_RUNS = re.compile(r"(.)\1+")
_FINAL_H = re.compile(r"(?<=[aeiu])h$")
_FINAL_E = re.compile(r"(?<=[^aeiu])[ae]i$")  # bari-ye: -e, -ay, -ai, -ey (karenge, karengay)
_VOWELS = {"a": "[ae]", "i": "[ie]", "e": "[aie]"}
"""What a key's vowel matches in a text's key: `e` is written for a short a (Tehreek) and
for a short i (Taleban, Mujahedeen), so it stands for either and either for it."""
SHORT = 4
"""Words shorter than this keep their spelling."""

_CONNECTORS = (
    *("e", "i", "el"),
    *("ul", "ud", "ur", "ut", "un", "uz", "us", "ush"),
    *("al", "ad", "ar", "at", "an", "az", "as", "ash"),
)
"""What may stand between two words of a name as a word of its own: the izafat (`e`, `i`) and
the Arabic article (`ul`, `al`, and as it is said before a sun letter, `ud`, `ash`, ...)."""


Slot = tuple[tuple[str, ...], bool]
"""One place of a word: the keys that may stand there, and whether it may be left out."""


def key(word: str, *, loose: bool = False) -> str:
    """The key of a folded Latin word (see the module doc); `loose`, with `e` as `a`: one
    key for more spellings, for words compared whole (fingerprints) rather than by a
    term's pattern, which lets `e` stand for `a` or `i` (`_VOWELS`)."""
    for written, meant in _DIGRAPHS:
        word = word.replace(written, meant)
    word = _FINAL_E.sub("e", _FINAL_H.sub("", _RUNS.sub(r"\1", word.translate(_LETTERS))))
    return _RUNS.sub(r"\1", word.replace("e", "a")) if loose else word


_FUSED = frozenset({"ul", "ud", "ur", "ut", "un", "uz"})
"""Connectors taken for the article where a term's word ends in one (`Hizbul Mujahideen`):
`al`, `ar`, `ad`, `us` end too many words."""

_JOINED = tuple(dict.fromkeys(key(c) for c in _CONNECTORS))
"""The keys of the connectors, for where one is joined to the word before it (`Jaishe`,
`Ansarul`)."""


@cache
def _english() -> frozenset[str]:
    data = resources.files(__package__).joinpath("data/english-words-scowl-2020.12.07.txt.gz")
    lines = gzip.decompress(data.read_bytes()).decode("ascii").splitlines()
    return frozenset(line for line in lines if not line.startswith("#"))


def is_english(word: str) -> bool:
    """Whether a folded word is an ordinary English word (SCOWL's lower-case words)."""
    return word in _english()


@lru_cache(maxsize=1 << 16)
def _word_key(word: str, loose: bool = False) -> str:
    """A word's key, or the word itself where it is short or an English word."""
    return key(word, loose=loose) if len(word) >= SHORT and not is_english(word) else word


def keys_of(text: str, *, loose: bool = False) -> tuple[str, list[tuple[int, int]]]:
    """The keys of a folded text's words (short words as written; `loose`: see `key`), one
    space apart, and the span of each word in the text (word k of the keys is words[k])."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^ ]+", text)]
    return " ".join(_word_key(text[a:b], loose) for a, b in spans), spans


def _urdu_letters() -> dict[str, Slot]:
    """`data/urdu-romanisation.tsv`: each letter's slot."""
    text = resources.files(__package__).joinpath("data/urdu-romanisation.tsv").read_text("utf-8")
    letters: dict[str, Slot] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            letter, keys, presence, *_ = line.split("\t")
            keyed = dict.fromkeys(key(k) for k in keys.split()) if keys != "-" else {}
            letters[letter] = (tuple(keyed), presence == "optional")
    return letters


URDU_LETTERS = _urdu_letters()
"""Urdu (and Arabic) letters -> the keys of their romanisations, as slots (see the file)."""
_VOWEL: Slot = (("a", "i", "u"), True)
_FINAL_HEH = frozenset("هہ")
_LONG_VOWELS = frozenset("اویيے")
"""Letters after which a final heh may go unsaid (`Sipah`: the key drops a final h after a
vowel); after a consonant it is an `a` or `ah`."""


@dataclass(frozen=True, slots=True)
class Variant:
    """A term's Roman Urdu spellings: `pattern`, over `keys_of(folded)[0]`, which confirms a
    hit (compiled when first asked for, `keys`: most terms are never confirmed), and
    `literals`, the rows (of `SHAPE` or `SKELETON`) that any text it confirms holds, for
    the prefilter."""

    pattern: str
    literals: tuple[bytes, ...]
    shaped: bool  # literals of `SHAPE` (a Latin term), else of `SKELETON`

    @property
    def keys(self) -> re.Pattern[str]:
        return _compiled(self.pattern)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _table(vowel: int) -> bytes:
    table = bytearray(b"\xff" * 256)
    table[0] = 0  # the NUL between two texts stays
    table[ord(" ")] = ord(" ")  # and the spaces between words, one for a run
    for consonant in "bcdfgjklmnpqrstvwxz":
        table[ord(consonant)] = ord({"f": "p", "q": "k", "w": "v"}.get(consonant, consonant))
    for letter in "aeiouy":
        table[ord(letter)] = vowel
    for symbol, marker in MARKERS.items():  # leetspeak symbols of the step-1 form
        table[ord(marker)] = table[ord(LEET_SYMBOLS[symbol])]
    return bytes(table)


SKELETON = _table(0xFF)
"""Byte table (for `normalize.squeezed`) of the consonants of a folded or step-1 text, words
one space apart: vowels, `y`, `h`, digits and every byte outside ASCII left out, `f` as `p`,
`q` as `k`, `w` as `v`, leetspeak markers as their letters. Every spelling of a word that
`key` makes one has the same consonants; Urdu-script terms, which leave short vowels out,
are sought by them in Latin text."""
SHAPE = _table(ord("a"))
"""As `SKELETON`, but every vowel (and `y`) as `a`: the shape of a word, which Latin terms
are sought by."""


# (the `h` of a joined connector: `key` drops a final h, `Sipah` is `sipa`, `Sipahe` `sipaha`)
_LINKED = (
    f"(?:(?:h?(?:{'|'.join(_JOINED)}))? ?| (?:{'|'.join(_CONNECTORS)}) ?)"  # h: a final h dropped
)
_PLAIN = "(?: ?)"


def _pattern(words: list[list[Slot]], linked: list[bool]) -> str:
    """The pattern over keys of words of slots; between two words, a space or none, and
    where `linked` says so, a connector or none."""

    def slot(place: Slot) -> str:
        keys, optional = place
        body = "|".join("".join(_VOWELS.get(c) or re.escape(c) for c in k) for k in keys if k)
        return f"(?:{body})?" if optional or "" in keys else f"(?:{body})"

    gaps = [_LINKED if link else _PLAIN for link in linked]
    return "".join(
        (gaps[k - 1] if k else "") + "".join(map(slot, word)) for k, word in enumerate(words)
    )


_MAX_LITERALS = 32
MIN_CONSONANTS = 4
"""A term whose spellings have fewer consonants is sought as written only: a shorter row of
consonants stands in too many texts for the prefilter to pass over them."""


_MAX_GAPS = 4  # 2 ** gaps ways to write a term's words apart or joined; more: all or none


_APART = (b" ", b"")
_MAX_JOININGS = 2048  # rows of a term made; with more, fewer connectors (`_joinings`)


def _linked_gaps(connectors: Iterable[bytes]) -> tuple[bytes, ...]:
    """What may stand in a linked gap, before the table makes it a row: a space or none,
    or a connector joined to the word before it, to the word after it, to both or apart."""
    forms = (b"%s", b"%s ", b" %s ", b" %s")
    return (*_APART, *dict.fromkeys(form % c for c in connectors for form in forms))


def _joinings(
    words: list[set[bytes]], table: bytes, linked: list[bool] | None = None
) -> set[bytes]:
    """The rows (`SKELETON` or `SHAPE`, by the table) of words (each its set of rows),
    whole words: each two apart or joined, and where `linked` says so with a connector:
    any, or where that makes too many rows the izafat and the article as `al` or said as
    the next word's first consonant (`ad-Dawla`), or else the izafat alone."""
    gaps = len(words) - 1
    linked = linked or [False] * gaps
    every = [c.encode() for c in _CONNECTORS]
    said = [
        [b"e", b"al", *(b"a" + row.strip(b" a")[:1] for row in words[k + 1])] for k in range(gaps)
    ]
    for connectors in ([every] * gaps, said, [[b"e"]] * gaps):
        options = [_linked_gaps(connectors[k]) if linked[k] else _APART for k in range(gaps)]
        if math.prod(map(len, options)) * math.prod(map(len, words)) <= _MAX_JOININGS:
            break
    if gaps > _MAX_GAPS:
        ways: Iterable[tuple[bytes, ...]] = [(b" ",) * gaps, (b"",) * gaps]
    else:
        ways = product(*options)
    found: set[bytes] = set()
    for way in ways:
        rows = {b" "}
        for k, word in enumerate(words):
            rows = {row + (way[k - 1] if k else b"") + w for row in rows for w in word}
        found |= {_squeezed_term(row + b" ", table) for row in rows}
    return found


_BYTE_RUNS = re.compile(rb"(.)\1+", re.DOTALL)


def _squeezed_term(row: bytes, table: bytes) -> bytes:
    """`normalize.squeezed` for the short rows of a term, without a compiled pass's call
    overhead."""
    return _BYTE_RUNS.sub(rb"\1", row.translate(table).replace(b"\xff", b""))


def _slot_rows(word: list[Slot]) -> set[bytes]:
    """The consonants a word of slots may have: each slot's keys as consonants (a slot
    whose keys differ in them, such as `v` or `u` for waw, both ways)."""
    found = {b""}
    for keys, optional in word:
        options = {_squeezed_term(k.encode(), SKELETON) for k in keys} | (
            {b""} if optional else set()
        )
        found = {a + b for a in found for b in options}
        if len(found) > _MAX_LITERALS:
            return set()
    return found


_HYPHENATED = re.compile(r"(?<=[^\W\d_])-([^\W\d_]{1,2})-(?=[^\W\d_])")

Spelled = tuple[list[list[Slot]], list[bool], set[bytes]]
"""A term's words as slots, which gaps between them may hold a connector, and its rows of
consonants."""


def _latin(written: str, folded: str) -> Spelled | None:
    """A Latin term as slots: its words as their keys (English and short words as they
    are), the connectors it was written with left out (`-e-`, `-ul-`, or `e` alone): where
    one was written, any connector may stand, joined or apart, or none. None where that is
    the term as written (English words only)."""
    words = folded.split()
    if not words or not all(w.isascii() and w.isalnum() for w in words):
        return None
    written_connectors = {"e"} | {
        c for c in _HYPHENATED.findall(written.casefold()) if c in _CONNECTORS
    }
    last = len(words) - 1
    kept: list[str] = []
    linked: list[bool] = []  # whether a connector was written after each kept word
    for i, w in enumerate(words):
        if 0 < i < last and w in written_connectors:
            linked[-1] = True
        elif i < last and w[-2:] in _FUSED and len(w) > SHORT and not is_english(w):
            kept.append(w[:-2])  # the article joined to its word (Hizbul, Ansarul)
            linked.append(True)
        else:
            kept.append(w)
            linked.append(False)
    linked = linked[:-1]  # the gaps between kept words
    keyed = [_word_key(w) != w or (len(w) >= SHORT and not is_english(w)) for w in kept]
    if not any(keyed) and len(kept) == len(words):
        return None
    literals = _joinings([{_squeezed_term(w.encode(), SHAPE)} for w in words], SHAPE) | _joinings(
        [{_squeezed_term(w.encode(), SHAPE)} for w in kept], SHAPE, linked
    )
    return [[((_word_key(w),), False)] for w in kept], linked, literals


def _urdu(written: str, *, article: bool = False) -> Spelled | None:
    """The slots of a term in Urdu or Arabic script, and its consonants; with `article`,
    the article that opens it must be written in Latin letters too."""
    words: list[list[Slot]] = []
    for word in written.split():
        letters = _letters(word)
        if not letters or not all(c in URDU_LETTERS for c in letters):
            return None
        # a letter written twice is said once longer, and written once in Latin letters
        letters = [c for k, c in enumerate(letters) if not k or c != letters[k - 1]]
        slots: list[Slot] = []
        if _opens_with_article(letters):
            letters = letters[2:]
            # after a word, the connector the gap before it may hold (al-, ul-, ud-, joined
            # or apart); opening the term, al, el or ul, or said as the next letter (ad-d),
            # joined or apart (a short name with al, el or ul only: its rows would be short)
            next_letter = () if article else URDU_LETTERS[letters[0]][0][:1]
            said = [f"{v}{c}" for v in "aeu" for c in ("l", *next_letter)]
            if not words:
                slots.append(((*said, *(f"{s} " for s in said)), not article))
        for letter in letters:
            slots += [_VOWEL, URDU_LETTERS[letter]]
        if letters[-1] in _FINAL_HEH and len(letters) > 1 and letters[-2] not in _LONG_VOWELS:
            slots[-1] = (slots[-1][0], False)  # said after a consonant (Allah, Taiba)
        words.append([*slots, _VOWEL])
    rows = [_slot_rows(word) for word in words]
    linked = [True] * (len(words) - 1)
    enough = all(rows) and len(words) <= _MAX_GAPS + 1
    literals = _joinings(rows, SKELETON, linked) if enough else set()
    return words, linked, literals


def _letters(word: str) -> list[str]:
    """The letters of a word in Urdu or Arabic script, its marks left out."""
    return [c for c in unicodedata.normalize("NFKD", word) if unicodedata.category(c) != "Mn"]


def _opens_with_article(letters: list[str]) -> bool:
    """Whether a word's letters open with the Arabic article, alef lam, before two more."""
    return letters[:2] == ["ا", "ل"] and len(letters) > 3


def _consonants(literals: Iterable[bytes]) -> int:
    """The fewest consonants of any of a term's rows (0 for none)."""
    return min((len(row.translate(None, b" a")) for row in literals), default=0)


def variant(written: str, folded: str) -> Variant | None:
    """The Roman Urdu spellings of a keyword term (as written, and folded), or None where
    it has none but its own (a term with digits keeps them: its fold reads them as letters)."""
    if any(ch.isdigit() for ch in written):
        return None
    latin = _latin(written, folded)
    found = latin or _urdu(written)
    least = MIN_CONSONANTS
    if found is not None and latin is None and _consonants(found[2]) < least:
        first, *rest = written.split()
        if not rest and not _opens_with_article(_letters(first)):
            return None  # one short word: its consonants stand in too many texts
        # a short name of two words (Hizb Allah) or opening with the article (al-Qaida,
        # sought with the article only)
        found, least = _urdu(written, article=True), MIN_CONSONANTS - 1
    if found is None or _consonants(found[2]) < least:
        return None
    words, linked, literals = found
    pattern = f"(?<![^ ]){_pattern(words, linked)}(?![^ ])"
    return Variant(pattern, tuple(sorted(literals)), shaped=latin is not None)
