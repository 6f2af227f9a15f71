"""The text read in a post's images (`media[i].text`): searched with the post's text unless a
condition names its fields, its evidence pointing into the image's text."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from postwatch.rules import Engine, PackError
from postwatch.rules.language.model import DEFAULT_FIELDS, Keywords
from tests.unit.rules.conftest import make_post

PACK = """
pack: m
version: 1
rules:
  - id: anywhere
    title: the post or its images
    match: {keywords: ["sample brigade"]}
  - id: text-only
    title: the post's text alone
    match: {keywords: {terms: ["sample brigade"], fields: [text]}}
  - id: images-only
    title: the images alone
    match: {regex: {patterns: ["join\\\\s+us\\\\s+on\\\\s+\\\\d+"], fields: [media.text]}}
"""


@pytest.fixture
def engine(engine_for: Callable[[str], Engine]) -> Engine:
    return engine_for(PACK)


def test_conditions_search_the_text_in_images_unless_they_name_their_fields() -> None:
    assert Keywords(("x",)).fields == DEFAULT_FIELDS == ("text", "media.text")


def test_a_phrase_in_an_image_matches_with_evidence_pointing_into_its_text(
    engine: Engine,
) -> None:
    image_text = "STATEMENT\nof the Sample   Brigade, 12 May"
    post = make_post(
        text="see the picture", media=[{"url": "https://e.x/1.png"}, {"text": image_text}]
    )
    [match] = engine.evaluate(post)
    assert match.rule.id == "anywhere"
    [evidence] = match.evidence
    assert evidence.field == "media[1].text"
    assert evidence.span is not None
    assert image_text[slice(*evidence.span)] == evidence.matched == "Sample   Brigade"


def test_a_condition_on_the_text_alone_ignores_images_and_one_on_images_ignores_the_text(
    engine: Engine,
) -> None:
    in_text = make_post(text="the sample brigade says: join us on 12 May")
    assert [m.rule.id for m in engine.evaluate(in_text)] == ["anywhere", "text-only"]
    in_image = make_post(text="", media=[{"text": "join us on 12 May"}])
    [match] = engine.evaluate(in_image)
    assert (match.rule.id, match.evidence[0].field) == ("images-only", "media[0].text")


def test_both_the_text_and_an_image_are_evidence(engine: Engine) -> None:
    post = make_post(text="the sample brigade", media=[{"text": "sample brigade"}])
    anywhere = next(m for m in engine.evaluate(post) if m.rule.id == "anywhere")
    assert [e.field for e in anywhere.evidence] == ["text", "media[0].text"]


def test_evaluating_many_finds_what_each_finds_alone_in_images(engine: Engine) -> None:
    posts = [
        make_post(id=f"test:{i}", text=text, media=media)
        for i, (text, media) in enumerate(
            [
                ("", [{"text": "sample brigade"}]),
                ("sample brigade", [{"text": "nothing"}, {"text": "the sample brigade"}]),
                ("nothing", []),
                ("", [{"url": "https://e.x/a.png"}, {"text": "SAMPLE BRIGADE"}]),
                ("sample brigade", []),
            ]
        )
    ]
    expected = [engine.evaluate(post) for post in posts]
    assert [len(found) for found in expected] == [1, 2, 0, 1, 2]
    assert engine.evaluate_many(posts) == expected


def test_an_unknown_field_names_the_one_for_images(engine_for: Callable[[str], Engine]) -> None:
    with pytest.raises(PackError, match=r"media\.text"):
        engine_for(PACK.replace("fields: [text]", "fields: [image]"))
