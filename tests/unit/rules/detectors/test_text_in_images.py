"""Reappearance of what images say: a poster re-typed in another font and colours, a
statement typed out from a poster, and a poster of one template with another statement
(which is not a copy, though its PDQ is near)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from postwatch.rules.detectors.learning import LETTER_FORM, Learned, letter_forms
from postwatch.rules.detectors.reappearance import same_text
from tests.factories import LATIN, poster, sample_photo
from tests.unit.rules.detectors.scenario import STATEMENT, image_hashes, post, run_match

OTHER = (
    "Our garden club meets every Sunday morning to plant tomatoes, share seeds and talk "
    "about the weather with the neighbours."
)
SERIF = LATIN.with_name("DejaVuSerif.ttf")


def template(text: str) -> Image.Image:
    """A poster of one template: the same photo above, the statement below."""
    image = Image.new("RGB", (1080, 1080), "white")
    image.paste(sample_photo("astronaut").resize((1080, 540)), (0, 0))
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(LATIN, 40)
    for n, line in enumerate(textwrap.wrap(text, 44)):
        draw.text((40, 580 + 60 * n), line, font=face, fill="black")
    return image


def reappearances(alerts: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(post id, evidence type, field) of each reappearance alert."""
    return [
        (a["post"]["id"], a["evidence"][0]["type"], a["evidence"][0]["field"])
        for a in alerts
        if a["kind"] == "reappearance"
    ]


def test_a_poster_re_typed_in_another_font_and_colours_is_found_by_its_text(
    tmp_path: Path,
) -> None:
    original = image_hashes(poster(STATEMENT))
    retyped = image_hashes(
        poster(STATEMENT, size=(900, 1200), background=(20, 40, 90), font=SERIF, font_size=44)
    )
    assert original.text
    assert retyped.text
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", "Saturday.", image=original),
            post("2", "new", "read this", minutes=5, image=retyped),
            post("3", "other", STATEMENT, minutes=6),  # typed out from the poster
            post("4", "other", "Saturday.", minutes=7, image=image_hashes(poster(OTHER))),
        ],
    )
    assert reappearances(alerts) == [
        ("test:2", "text_fingerprint", "media[0].text"),
        ("test:3", "text_fingerprint", "text"),
    ]
    evidence = next(a for a in alerts if a["post"]["id"] == "test:2")["evidence"][0]
    assert evidence["original_post_id"] == "test:1"


def test_a_poster_of_one_template_with_another_statement_is_no_copy(tmp_path: Path) -> None:
    original, other = image_hashes(template(STATEMENT)), image_hashes(template(OTHER))
    assert original.pdq
    assert other.pdq
    # the photo makes the two near by PDQ: only their texts tell them apart
    assert (int(original.pdq, 16) ^ int(other.pdq, 16)).bit_count() <= 31
    cropped = image_hashes(template(STATEMENT).crop((60, 30, 1060, 1080)))
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", "Saturday.", image=original),
            post("2", "club", "Sunday.", minutes=5, image=other),
            post("3", "new", "again", minutes=6, image=cropped),
        ],
    )
    found = reappearances(alerts)
    assert [f for f in found if f[0] == "test:2"] == []
    assert ("test:3", "text_fingerprint", "media[0].text") in found
    assert {f[1] for f in found if f[0] == "test:3"} & {"pdq", "local_features"}


def test_images_without_text_on_either_side_are_judged_by_the_image_alone() -> None:
    statement, other = letter_forms(STATEMENT), letter_forms(OTHER)
    assert statement[LETTER_FORM]
    assert other[LETTER_FORM]
    assert same_text({}, learned_image(other[LETTER_FORM]))
    assert same_text(statement, learned_image(frozenset()))
    assert same_text(statement, learned_image(statement[LETTER_FORM]))
    assert not same_text(statement, learned_image(other[LETTER_FORM]))
    misread = STATEMENT.replace("capital", "capita1").replace("Saturday", "Satur day")
    assert same_text(letter_forms(misread), learned_image(statement[LETTER_FORM]))  # OCR's


def learned_image(letters: frozenset[int]) -> Learned:
    """A learned PDQ whose image's text has these letter runs."""
    learned_at = datetime(2025, 1, 1, tzinfo=UTC)
    return Learned(
        "pdq",
        "0" * 64,
        "a",
        "p",
        "u",
        None,
        learned_at,
        "",
        (),
        tuple(sorted(letters)),
        letters_form=LETTER_FORM,
    )
