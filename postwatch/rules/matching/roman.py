"""Roman Urdu: the spellings of one Urdu word in Latin letters, made one key.

Urdu is most often written on social media in Latin letters, with no agreed spelling:
`Jaish-e-Mohammed`, `Jaish-i-Muhammad` and `JaisheMohammad` are one name. `key(word)` maps
a folded word (see `normalize`) to a key that its common spellings share:

- long vowels written doubled or not: `ee` is `i`, `oo` is `u`, `aa` is `a`;
- `e` for `a` and `o` for `u` (the short vowels have no fixed letter), `y` for `i`;
- `kh` and `q` for `k`, `gh` for `g`, `ph` for `f`, `w` for `v`;
- a letter doubled or not (`Muhammad`, `Muhamad`), a final `h` after a vowel (`Taibah`);

and, between the words of a name, the izafat (`-e-`, `-i-`, or joined: `Jaishe`) and the
Arabic article (`-ul-`, `-ud-`, `-al-`, ...) may be written or left out.

A keyword term is sought in these spellings as well as its own (`TextMatcher`): each word of
four letters or more by its key, in the term and in the text, except ordinary English words
(the lower-case words of SCOWL, `data/english-words-scowl-*.txt.gz`: `wolf` is not `volf`,
`example` not `exxampple`) and shorter words (`bin` is not `ban`), which stay as written; a
term written in Urdu or Arabic script also in Latin letters, by the transliteration table
`URDU_LETTERS` (after the Urdu alphabet's romanisation in the ALA-LC tables and the
spellings of Roman Urdu in common use): its consonants as written, the short vowels that
the script leaves out wherever one may stand. A term of fewer than four consonants is not
transliterated (a short skeleton is found inside too many words).

`Variant` holds a term's two patterns: one over keys (which confirms a hit) and one over the
literal form of the matcher's prefilter (which finds the texts to confirm, and never misses
one the first would confirm).
"""

# ruff: noqa: RUF001 - Arabic-script letters, on purpose
from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["SHORT", "URDU_LETTERS", "Variant", "key", "keys_of", "variant"]

_DIGRAPHS = (("ee", "i"), ("oo", "u"), ("kh", "k"), ("gh", "g"), ("ph", "f"))
_LETTERS = str.maketrans({"q": "k", "w": "v", "y": "i", "e": "a", "o": "u"})
_RUNS = re.compile(r"(.)\1+")
_FINAL_H = re.compile(r"(?<=[aiu])h$")
SHORT = 4
"""Words shorter than this keep their spelling."""

_CONNECTORS = ("e", "i", "ul", "ud", "ur", "ut", "un", "uz", "al", "ad", "ar", "az", "el")
"""What may stand between two words of a name as a word of its own: the izafat (`e`, `i`) and
the Arabic article (`ul`, `ud`, `al`, ...)."""


# what each key letter may have been written as, in the prefilter's literal form (runs of a
# byte single, `i` written `l`): a superset, so that the prefilter never misses a spelling
_WRITTEN = {
    "a": "[ae]+",
    "i": "[iyel]*",  # `l` and an `i` after it are one run of `l` in the literal form
    "u": "[ou]+",
    "k": "(?:[kq]h?)+",
    "g": "(?:gh?)+",
    "f": "(?:f|ph)+",
    "v": "[vw]+",
}

Slot = tuple[tuple[str, ...], bool]
"""One place of a word: the keys that may stand there, and whether it may be left out."""


def key(word: str) -> str:
    """The key of a folded Latin word (see the module doc)."""
    for written, meant in _DIGRAPHS:
        word = word.replace(written, meant)
    word = _RUNS.sub(r"\1", word.translate(_LETTERS))
    return _FINAL_H.sub("", word)


_JOINED = tuple(dict.fromkeys(key(c) for c in _CONNECTORS))
"""The keys of the connectors, for where one is joined to the word before it (`Jaishe`,
`Ansarul`)."""


@cache
def _english() -> frozenset[str]:
    data = resources.files(__package__).joinpath("data/english-words-scowl-2020.12.07.txt.gz")
    lines = gzip.decompress(data.read_bytes()).decode("ascii").splitlines()
    return frozenset(line for line in lines if not line.startswith("#"))


def _word_key(word: str) -> str:
    """A word's key, or the word itself where it is short or an English word."""
    return key(word) if len(word) >= SHORT and word not in _english() else word


def keys_of(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The keys of a folded text's words (short words as written), one space apart, and
    the span of each word in the text (word k of the keys is words[k])."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^ ]+", text)]
    return " ".join(_word_key(text[a:b]) for a, b in spans), spans


# Urdu (and Arabic) letters -> the keys of their romanisations, as slots; the short vowels
# are not written and may stand between any two letters. Letters of the clean form
# (`charmap` folds the kaf, yeh and heh variants, listed once here) and Urdu's own.
URDU_LETTERS: dict[str, Slot] = {
    "ا": (("a", "i", "u"), True),  # alef: a long a, or a vowel's carrier at a word's start
    "آ": (("a",), False),
    "ب": (("b",), False),
    "پ": (("p",), False),
    "ت": (("t",), False),
    "ٹ": (("t",), False),
    "ث": (("s",), False),
    "ج": (("j",), False),
    "چ": (("ch",), False),
    "ح": (("h",), True),
    "خ": (("k",), False),
    "د": (("d",), False),
    "ڈ": (("d",), False),
    "ذ": (("z",), False),
    "ر": (("r",), False),
    "ڑ": (("r",), False),
    "ز": (("z",), False),
    "ژ": (("z", "zh"), False),
    "س": (("s",), False),
    "ش": (("sh",), False),
    "ص": (("s",), False),
    "ض": (("z",), False),
    "ط": (("t",), False),
    "ظ": (("z",), False),
    "ع": (("a", "i", "u"), True),
    "غ": (("g",), False),
    "ف": (("f",), False),
    "ق": (("k",), False),
    "ك": (("k",), False),
    "ک": (("k",), False),
    "گ": (("g",), False),
    "ل": (("l",), False),
    "م": (("m",), False),
    "ن": (("n",), False),
    "ں": (("n",), True),
    "و": (("v", "u", "au"), False),
    "ه": (("h", "a"), True),
    "ہ": (("h", "a"), True),
    "ھ": (("h",), True),
    "ي": (("i", "a", "ai"), False),
    "ی": (("i", "a", "ai"), False),
    "ے": (("a", "ai"), False),
    "ة": (("a", "at"), False),
    "ء": ((), True),
    "ئ": (("i",), True),
}
_VOWEL: Slot = (("a", "i", "u"), True)


@dataclass(frozen=True, slots=True)
class Variant:
    """A term's Roman Urdu spellings: `keys` over `keys_of(folded)[0]`, `written` over the
    prefilter's literal form (between spaces: whole words)."""

    keys: re.Pattern[str]
    written: str


def _written(key: str) -> str:
    """What a key may have been written as, in the literal form."""
    return "".join(_WRITTEN.get(ch, f"{re.escape(ch)}+") for ch in key)


def _pattern(words: list[list[Slot]], form: Callable[[str], str]) -> str:
    def slot(place: Slot) -> str:
        keys, optional = place
        body = "|".join(form(k) for k in keys if k)
        return f"(?:{body})?" if optional or "" in keys else f"(?:{body})"

    joined = "|".join(form(k) for k in _JOINED)
    apart = "|".join(form(k) for k in _CONNECTORS)
    gap = f"(?:(?:{joined})? ?| (?:{apart}) ?)"
    return gap.join("".join(map(slot, word)) for word in words)


def _latin(folded: str) -> list[list[Slot]] | None:
    words = folded.split()
    if not words or not all(w.isascii() and w.isalnum() for w in words):
        return None
    if not any(len(w) >= SHORT for w in words):
        return None
    kept = [w for i, w in enumerate(words) if i in (0, len(words) - 1) or w not in _CONNECTORS]
    return [[((_word_key(w),), False)] for w in kept]


def _urdu(written: str) -> list[list[Slot]] | None:
    words: list[list[Slot]] = []
    for word in written.split():
        decomposed = unicodedata.normalize("NFKD", word)
        letters = [c for c in decomposed if unicodedata.category(c) != "Mn"]
        if not letters or not all(c in URDU_LETTERS for c in letters):
            return None
        slots: list[Slot] = []
        if letters[:2] == ["ا", "ل"] and len(letters) > 3:  # the article, alef lam
            slots.append(((*_JOINED, "al "), True))
            letters = letters[2:]
        for letter in letters:
            slots += [_VOWEL, URDU_LETTERS[letter]]
        words.append([*slots, _VOWEL])
    consonants = sum(1 for word in words for keys, optional in word if not optional)
    return words if consonants >= SHORT else None


def variant(written: str, folded: str) -> Variant | None:
    """The Roman Urdu spellings of a keyword term (as written, and folded), or None where
    it has none but its own (a term with digits keeps them: its fold reads them as letters)."""
    if any(ch.isdigit() for ch in written):
        return None
    words = _latin(folded) or _urdu(written)
    if words is None:
        return None
    return Variant(
        re.compile(f"(?<![^ ]){_pattern(words, re.escape)}(?![^ ])"),
        f"{_pattern(words, _written)}h*",
    )
