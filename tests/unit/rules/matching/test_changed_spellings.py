"""Spellings people change: Greek capitals, transliteration letters, phrases partly run
together, marks inside a word, Arabic without dots or with its article apart, Urdu typed on
an Arabic keyboard, Roman Urdu, sentence ends inside a phrase, and domains written out.
Each class positive and negative, in Latin, Arabic and Urdu script and Roman Urdu.

The tables of cases are in `tests/files/cases/changed-spellings.yaml`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from postwatch.rules import Engine
from postwatch.rules.matching.matchers.text import TextMatcher
from postwatch.rules.matching.matchers.urls import host, urls_in_text
from tests.cases import cases
from tests.unit.rules.conftest import make_post

TERMS = [
    "brigade north",
    "example front brigade",
    "shahid force",
    "red river brigade",
    "wolf front",
    "القاعدة",
    "الجبهة المثال",
    "بيت المقدس",
    "فلسطين",
    "پاکستان",
    "چمن",
    "مثالی محاذ",
    "Jaish-e-Mohammed",
    "Lashkar-e-Taiba",
    "Khalid Khan Brigade",
    "Qari Hussain",
    "Harkat-ul-Ansar",
    "جیش محمد",
    "تحریک طالبان",
    "Hizbul Mujahideen",
    "Jamaat-ud-Dawa",
    "Lashkar-e-Jhangvi",
    "جماعت الدعوہ",
    "القاعدة",
    "الدولة الإسلامية",
    "حزب الله",
    "جبهة النصرة",
    "the rapist",
    "desert",
    "انتحاري",
    "kill the traitors",
]
MATCHER = TextMatcher(TERMS)


def hits(text: str) -> list[tuple[str, str]]:
    return [(h.key, text[h.span[0] : h.span[1]]) for h in MATCHER.keywords([text])]


POSITIVE = cases("changed-spellings", "positive")


@pytest.mark.parametrize(("kind", "text", "term", "span"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_changed_spellings_are_caught(kind: str, text: str, term: str, span: str) -> None:
    assert (term, span) in hits(text), kind


NEGATIVE = cases("changed-spellings", "negative")


@pytest.mark.parametrize(("kind", "text"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_near_misses_stay_apart(kind: str, text: str) -> None:
    assert hits(text) == [], kind


def test_a_term_in_beh_does_not_match_peh() -> None:
    assert TextMatcher(["باس"]).keywords(["پاس"]) == []


@pytest.mark.parametrize(
    ("written", "spelling"),
    [
        ("mohammed", "muhammad"),
        ("jaysh", "jaish"),
        ("shaheed", "shahid"),
        ("qadir", "kadir"),
        ("khalid", "kalid"),
        ("wazir", "vazir"),
        ("taibah", "tayyiba"),
        ("mujahideen", "mujahidin"),
        ("taliban", "taleban"),  # e for a short i
        ("mujahideen", "mujahedeen"),
        ("sipah", "sepah"),
        ("tehreek", "tahrik"),  # e for a short a
        ("jhangvi", "jangvi"),  # an aspirate without its h
        ("bhatti", "batti"),
        ("karenge", "karengay"),  # bari-ye
    ],
)
def test_roman_urdu_spellings_of_a_word_find_each_other(written: str, spelling: str) -> None:
    assert [h.key for h in TextMatcher([f"{written} front"]).keywords([f"the {spelling} front"])]
    assert [h.key for h in TextMatcher([f"{spelling} front"]).keywords([f"the {written} front"])]


@pytest.mark.parametrize(
    ("written", "other"), [("taliban", "tolibun"), ("sipah", "supah"), ("karenge", "karengo")]
)
def test_roman_urdu_words_of_other_vowels_stay_apart(written: str, other: str) -> None:
    assert not TextMatcher([f"{written} front"]).keywords([f"the {other} front"])


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("read examplefront dot org slash manifesto", "examplefront.org"),
        ("read examplefront . org today", "examplefront.org"),
        ("read examplefront .org", "examplefront.org"),
        ("read examplefront。org/page", "examplefront.org"),
        ("read ｅｘａｍｐｌｅｆｒｏｎｔ．ｏｒｇ", "examplefront.org"),
        ("read www[.]examplefront[dot]org", "www.examplefront.org"),
        ("read examplefront\u2024org", "examplefront.org"),  # one dot leader
        ("read examplefront\ufe52org", "examplefront.org"),  # small full stop
        ("read examplefront [.] org", "examplefront.org"),
        ("read example\u200bfront.org", "examplefront.org"),  # a zero-width space inside
    ],
)
def test_domains_written_out_are_found_with_their_span(text: str, domain: str) -> None:
    found = urls_in_text(text)
    assert [host(url) for url, _ in found] == [domain]
    ((_, (start, end)),) = found
    assert text[start:end].startswith(text.split()[1])


def test_a_number_with_spaced_dots_is_no_host() -> None:
    assert urls_in_text("it costs 5 . 30 and 7 dot 5") == []


def test_a_domain_rule_matches_a_domain_written_out(
    engine_for: Callable[[str], Engine],
) -> None:
    engine = engine_for(
        "pack: p\nversion: 1\nrules:\n  - {id: d, title: d, match: {domains: [examplefront.org]}}\n"
    )
    (match,) = engine.evaluate(make_post(text="all of it at examplefront dot org slash manifesto"))
    assert [(e.value, e.matched) for e in match.evidence] == [
        ("examplefront.org", "examplefront dot org slash manifesto")
    ]


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"الدولة\s+الإسلامية", "هذا الدولة الإسلامية الآن"),
        (r"لشکر\s+طیبہ", "یہ لشکر طیبہ ہے"),
        (r"café\s+bomb", "a café bomb threat"),
        ("москва", "Москва сегодня"),
        ("straße", "die straße"),
        (r"\bBrigade\s+\d{2,4}", "BRIGADE 313"),
    ],
)
def test_a_regex_written_in_any_script_matches_the_text_it_names(pattern: str, text: str) -> None:
    (hit,) = TextMatcher([], [pattern]).regex([text])
    assert hit.key == pattern
