"""Folding: every class of evasion, positive and negative, in Latin, Arabic and Urdu script;
offsets back to the original; the fast and the offset-keeping folds agree.

The tables of cases are in `tests/files/cases/folding.yaml`."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from postwatch.rules.matching.matchers.text import (
    _MID_WORD,
    _SENTENCE_END,
    _TURNED_ONLY,
    TextMatcher,
    _classes,
    _occurrences,
    _term_parts,
)
from postwatch.rules.matching.normalize import (
    clean,
    fast_words,
    fast_words_many,
    fold,
    fold_term,
    single_runs,
)
from tests.cases import cases

LATIN = "example front"
ARABIC = "الجبهة المثال"  # "the example front"
URDU = "مثالی محاذ"  # "example front"
MATCHER = TextMatcher([LATIN, ARABIC, URDU, "sample brigade", "coon", "brigade 313", "نمونہ دستون"])


def found(text: str) -> list[tuple[str, str]]:
    """(term, original text of the span) of each hit."""
    return [(h.key, text[h.span[0] : h.span[1]]) for h in MATCHER.keywords([text])]


POSITIVE = cases("folding", "positive")

NEGATIVE = cases("folding", "negative")


@pytest.mark.parametrize(("kind", "text", "term"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_evasion_is_caught_and_spans_cover_it(kind: str, text: str, term: str) -> None:
    hits = found(text)
    assert [t for t, _ in hits] == [term], kind
    matched = hits[0][1]
    assert (
        fold_term(matched) == fold_term(text.lstrip("#"))
        or fold_term(matched) in fold(text).text.replace(" ", "") + " " + fold(text).text
    )


@pytest.mark.parametrize(("kind", "text"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_near_misses_do_not_match(kind: str, text: str) -> None:
    assert found(text) == [], kind


def test_a_doubled_letter_stands_for_one_in_long_terms_only() -> None:
    matcher = TextMatcher(["god", "sample", "example front"])
    assert [h.key for h in matcher.keywords(["good", "ssample", "exxample front"])] == [
        "sample",
        "example front",
    ]


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("the vvolf front", "vvolf front"),
        ("the wolph front", "wolph front"),
        ("THE VVOLPH FRONT", "VVOLPH FRONT"),
        ("the volf front", None),
        ("the vvolf frontier", None),
        ("a vvolf frontage", None),
    ],
)
def test_letters_written_as_two_are_read_as_one(text: str, hit: str | None) -> None:
    found = [(h.key, text[slice(*h.span)]) for h in TextMatcher(["wolf front"]).keywords([text])]
    assert found == ([("wolf front", hit)] if hit else [])


def test_span_points_into_the_original_text() -> None:
    text = "Ｗe back the Ｅxa\u200bmple   Ｆront, always"
    ((_, matched),) = found(text)
    assert matched == "Ｅxa\u200bmple   Ｆront"
    text = "نحن مع الْجَبْهَةُ الْمِثَالُ اليوم"
    ((_, matched),) = found(text)
    assert matched == "الْجَبْهَةُ الْمِثَالُ"


def test_hits_in_a_longer_text_are_each_found_in_order() -> None:
    text = "Example Front! then s.a.m.p.l.e b.r.i.g.a.d.e and #ExampleFront"
    assert found(text) == [
        (LATIN, "Example Front"),
        ("sample brigade", "s.a.m.p.l.e b.r.i.g.a.d.e"),
        (LATIN, "ExampleFront"),
    ]


def test_clean_form_keeps_punctuation_and_maps_back() -> None:
    cleaned = clean("ＳＡＭＰＬＥ  Вrigade #313!")
    assert cleaned.text == "sample  brigade #313!"
    assert cleaned.to_original(8, 15) == (8, 15)
    assert clean("a\u200bb c").to_original(2, 3) == (3, 4)


# Text drawn from the characters that folding treats specially, so that the
# property tests reach every branch: markers, separators, runs, marks, Arabic.
ALPHABET = st.sampled_from(
    list("abeilnost013!@$|+.-_ \u200b\u00ad\u0301ÉéÑ()/\\")
    + list("ابتةهیکيىأإآـَُِ")
    + ["ｅ", "𝐞", "е", "ß", "ﷺ", "\U000e0041", "😀"]
)
TEXTS = st.lists(ALPHABET, max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_fast_fold_and_offset_fold_agree(text: str) -> None:
    folded = fold(text)
    detail = folded.detail()
    assert detail.text == folded.text
    assert len(detail.starts) == len(detail.ends) == len(detail.counts) == len(folded.text)
    assert len(detail.raws) == len(folded.text)
    for start, end in zip(detail.starts, detail.ends, strict=True):
        assert 0 <= start <= end <= len(text)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
@example("ｅ😀É😀Éｅ")  # "e e ee": `e ee` overlaps `e e`, which is no occurrence of it
def test_every_pair_of_folded_words_is_found_in_its_text(text: str) -> None:
    """Soundness of the fast prefilter: whatever the full fold holds, the matcher finds (in
    a text with no sentence end, which breaks a phrase: see test_changed_spellings)."""
    assume(_SENTENCE_END.search(text) is None)
    words = fold(text).text.split()
    terms = {" ".join(words[i : i + 2]) for i in range(len(words))}
    if not terms:
        return
    assert fast_words(text)  # the prefilter form exists for every non-empty fold
    found_terms = {hit.key for hit in TextMatcher(terms).keywords([text])}
    assert found_terms == terms


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        TEXTS
        | st.lists(ALPHABET | st.sampled_from([*"*·ɐǝʇ٣²", "|\\/|", "|-|"]), max_size=9).map(
            "".join
        )
        | st.sampled_from(["\x00", "a\ud800b", "ﬁ", "x\x00y", "ok", "مثال", "(", "|\\/"]),
        max_size=6,
    )
)
def test_the_batch_step1_form_is_each_texts_own(texts: list[str]) -> None:
    """One pass over many texts gives each text's step-1 form; names the texts with a mark
    inside a word, and gives their forms without those marks; and counts the letters only
    upside-down writing uses."""
    words = fast_words_many(texts, _classes())
    assert words.form == b" \x00 ".join(map(fast_words, texts))
    marked = [text for text in texts if _MID_WORD.search(text)]
    assert words.marked.tolist() == [bool(_MID_WORD.search(text)) for text in texts]
    assert words.unmarked == b" \x00 ".join(
        fast_words(_MID_WORD.sub("\u200b", text)) for text in marked
    )
    assert words.turned.tolist() == [sum(ch in _TURNED_ONLY for ch in text) for text in texts]


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=5))
def test_the_terms_of_many_texts_are_those_of_each_text_alone(texts: list[str]) -> None:
    """Soundness of the prefilter over many texts: what the matcher finds in a text on its
    own, it finds in it among others, whatever the texts around it."""
    terms = {
        " ".join(words[i : i + 2])
        for words in (fold(text).text.split() for text in texts)
        for i in range(len(words))
    }
    if not terms:
        return
    matcher = TextMatcher(terms)
    alone = [
        replace(hit, index=i) for i, text in enumerate(texts) for hit in matcher.keywords([text])
    ]
    assert {hit.index for hit in alone} == {i for i, t in enumerate(texts) if fold(t).text}
    assert matcher.keywords(texts) == alone


def _term_regex(folded: str) -> re.Pattern[str]:
    """The places a folded term may stand in a folded text, as a regex: the specification
    that `_occurrences` implements without compiling one regex per term."""
    parts: list[str] = []
    previous = ""
    for ch in folded:
        atom = "[il]" if ch in "il" else re.escape(ch)
        if ch == " ":
            parts.append(" ?")
        else:
            alike = ch == previous or (ch in "il" and previous != "" and previous in "il")
            parts.append(f"(?:{atom})?" if alike else f"{atom}(?:{atom})?")
        previous = ch
    return re.compile(f"(?<![^ ]){''.join(parts)}(?![^ ])")


FOLDED_WORDS = st.lists(st.sampled_from("ilaob"), min_size=1, max_size=5).map("".join)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(FOLDED_WORDS, min_size=1, max_size=3).map(" ".join),
    st.lists(FOLDED_WORDS | st.sampled_from(["", "  "]), max_size=12).map(" ".join),
)
def test_a_term_stands_where_its_regex_would_find_it(term: str, text: str) -> None:
    expected = [m.span() for m in _term_regex(term).finditer(text)]
    assert list(_occurrences(_term_parts(term), text)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=30) | st.lists(st.sampled_from(b"  aab\x00LS il"), max_size=20).map(bytes)
)
def test_single_runs_translates_and_makes_runs_single(data: bytes) -> None:
    table = bytes.maketrans(b"iAS", b"l  ")
    expected = re.sub(rb"(.)\1+", rb"\1", data.translate(table), flags=re.DOTALL).strip(b" ")
    assert single_runs(data, table) == expected
