"""Texts read in images compared by their letter runs: two readings of one Urdu or Arabic
poster, which Tesseract misreads differently (mostly a letter's dots), are one text; texts of
other statements are not; and entries learned before the skeleton still match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from postwatch.rules.detectors.learning import (
    LETTER_FORM,
    SAME_LETTERS,
    Learned,
    LearnedBank,
    letter_forms,
    letter_runs,
    shared_letters,
)
from postwatch.rules.detectors.reappearance import same_text
from tests.conftest import SHARED_DATA

ARABIC_SCRIPT = SHARED_DATA / "arabic_script"

# three of Tatoeba's sentences, and Tesseract's readings (Debian's eng+urd+ara models) of
# two posters of them, in Amiri Bold and Amiri Regular, other colours and sizes
URDU = (
    ("انہوں نے لڑکے کو ڈوبنے سے بچا لیا۔", "بس کرو! تم اسے رُلا رہے ہو۔", "مجھے کافی پسند ہے۔"),
    "انہوں LIL کو ad سے بجا لیا۔ بس\nکروا تم اسے رلا رہے هو مجھے BE",
    "انہوں نے لڑکے کو 23 سے بجا لیا۔ بس\nکروا تم انه رلا ey هو مجه کافی\nپسند ہے۔",
)
ARABIC = (
    ("كلما تقابلا تجادلا.", "كسب سامي الشّريف كسبا تامّا.", "متى بدأتَ دراسة اللغة الانجليزية؟"),
    "كلما تقابلا تجادلاء كسب gle الشريف\nكسبا Shy ge Ub دراسة اللغة\nYI جلیزیة؟",
    "كلما تقابلا ald كسب سامي الشريف\nکسبا تاما. متی Shy دراسة اللغة\nالانجليزية؟",
)
ENGLISH = "The march starts at the river gate on Saturday at noon: bring water and a flag"


def posters(name: str) -> list[str]:
    """Posters of three real sentences each (Tatoeba's Urdu or Arabic, in file order)."""
    sentences = [s for s in (ARABIC_SCRIPT / name).read_text().splitlines() if s.strip()]
    return [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences) - 2, 3)]


def other_texts(sentences: tuple[str, ...], name: str) -> list[str]:
    """Real texts of the statement's script that hold none of its sentences."""
    texts = posters(name)
    if name == "tatoeba_ara.txt":  # and the sentences of UD's Arabic news treebank
        lines = (ARABIC_SCRIPT / "ud_arabic_pud_test_sentences.tsv").read_text().splitlines()
        texts += [line.split("\t", 1)[1] for line in lines[1:]]
    return [t for t in texts if not any(sentence in t for sentence in sentences)]


@pytest.mark.parametrize("statement", [URDU, ARABIC], ids=["urdu", "arabic"])
def test_two_readings_of_one_poster_are_one_text_by_their_skeleton(
    statement: tuple[tuple[str, ...], str, str],
) -> None:
    _, first, second = statement
    assert shared_letters(letter_runs(first), letter_runs(second)) >= SAME_LETTERS
    # letter by letter, their dots and the Latin letters read into them part them
    assert shared_letters(letter_runs(first, 1), letter_runs(second, 1)) < SAME_LETTERS


@pytest.mark.parametrize(
    ("statement", "name"),
    [(URDU, "tatoeba_urd.txt"), (ARABIC, "tatoeba_ara.txt")],
    ids=["urdu", "arabic"],
)
def test_readings_of_a_poster_are_not_one_text_with_other_statements(
    statement: tuple[tuple[str, ...], str, str], name: str
) -> None:
    sentences, *readings = statement
    others = [letter_runs(t) for t in other_texts(sentences, name)]
    assert len(others) > 150
    for reading in [" ".join(sentences), *readings]:
        runs = letter_runs(reading)
        assert max(shared_letters(runs, other) for other in others) < SAME_LETTERS


def test_latin_letters_read_into_arabic_script_are_left_out() -> None:
    _, first, _ = ARABIC
    assert letter_runs(first) == letter_runs(first.replace("gle", "").replace("Shy ge Ub", ""))


def test_a_text_in_latin_letters_is_written_as_before() -> None:
    assert letter_runs(ENGLISH)
    assert letter_runs(ENGLISH) == letter_runs(ENGLISH, 1)


def learned(form: int, text: str) -> Learned:
    """A text learned from an image, its letter runs written in `form`."""
    return Learned(
        "text",
        "00" * 512,
        "alert",
        "post",
        "author",
        None,
        datetime(2026, 1, 1, tzinfo=UTC),
        letters=tuple(sorted(letter_runs(text, form))),
        letters_form=form,
    )


def test_an_entry_learned_before_the_skeleton_is_still_found_by_its_text() -> None:
    _, first, second = URDU
    old = learned(1, first)
    record = old.encode().replace(b',"letters_form":1', b"")  # as such records were written
    assert b"letters_form" not in record
    entry = Learned.decode(record)
    assert entry.letters_form == 1
    bank = LearnedBank(text_threshold=0.5, containment_threshold=0.4, pdq_max_distance=31)
    bank.learn(entry)
    assert [e.post_id for e, _ in bank.same_letters(letter_forms(first))] == ["post"]
    assert same_text(letter_forms(first), entry)
    # the current form of the same text is another entry's, found by the other reading too
    new = learned(LETTER_FORM, first)
    assert Learned.decode(new.encode()).letters_form == LETTER_FORM
    assert same_text(letter_forms(second), new)
    assert not same_text(letter_forms(second), entry)  # letter by letter, it is not
