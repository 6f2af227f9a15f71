"""Text in images: posters in English, Urdu and Arabic read by Tesseract in the hashing
child, photos without text left without, and what is missing said before any image is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont, ImageOps

from postwatch.cli import main
from postwatch.media import Hasher, HashOptions, OcrUnavailable
from postwatch.media.ocr import LANGUAGES, MAX_TEXT, check_languages, clean, engine
from postwatch.rules.matching.normalize import fold
from postwatch.settings import Settings
from tests.conftest import SHARED_DATA
from tests.factories import LATIN, png, poster, sample_photo

ENGLISH = "Stand with the brothers of the valley at the great march on Friday"
URDU = " ".join((SHARED_DATA / "arabic_script" / "tatoeba_urd.txt").read_text().splitlines()[3:6])
ARABIC = " ".join(
    (SHARED_DATA / "arabic_script" / "tatoeba_ara.txt").read_text().splitlines()[40:43]
)


def words(text: str | None) -> set[str]:
    return set(fold(text or "").text.split())


@pytest.fixture(scope="module")
def hasher() -> Iterator[Hasher]:
    with Hasher(HashOptions(features=False)) as hashing:
        yield hashing


@pytest.mark.parametrize(
    ("text", "right_to_left", "share"),
    # Debian's models (tessdata_fast) read about 0.6 of the words of Urdu and Arabic posters
    # (benchmarks/ocr_bench.py): enough for a phrase or a fingerprint to be found again
    [(ENGLISH, False, 1.0), (URDU, True, 0.4), (ARABIC, True, 0.4)],
    ids=["english", "urdu", "arabic"],
)
def test_the_words_of_a_poster_are_read(
    hasher: Hasher, text: str, right_to_left: bool, share: float
) -> None:
    read = hasher.hash_bytes(png(poster(text, right_to_left=right_to_left))).text
    assert read is not None
    found = words(read) & words(text)
    assert len(found) >= share * len(words(text)), (read, text)


def tatoeba(name: str, first: int) -> str:
    """Three of Tatoeba's sentences, from the `first`."""
    lines = (SHARED_DATA / "arabic_script" / name).read_text().splitlines()
    return " ".join(lines[first : first + 3])


def test_rows_of_arabic_script_are_not_dropped_as_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    # rows of many dots, which Tesseract's layout analysis dropped (a ninth of the words read
    # at the poster's size); read once at that size, as read_text first reads it
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    text = tatoeba("tatoeba_ara.txt", 12)
    api = engine(LANGUAGES)
    api.SetImage(ImageOps.invert(poster(text, right_to_left=True).convert("L")))
    read = api.GetUTF8Text()
    api.Clear()
    assert len(words(read) & words(text)) >= 0.5 * len(words(text)), read


def test_a_poster_read_with_little_confidence_is_read_again_at_half_size(hasher: Hasher) -> None:
    # Tesseract misreads these lines of Arabic script at their size (half the words, mean
    # confidence 66); at half the size it reads them all (84)
    text = tatoeba("tatoeba_ara.txt", 51)
    read = hasher.hash_bytes(png(poster(text, right_to_left=True))).text
    assert len(words(read) & words(text)) >= 0.75 * len(words(text)), read


def test_a_poster_of_large_letters_is_read_smaller(hasher: Hasher) -> None:
    # at its size Tesseract's layout analysis takes it for a picture and reads nothing
    text = tatoeba("tatoeba_urd.txt", 18)
    read = hasher.hash_bytes(png(poster(text, right_to_left=True))).text
    assert len(words(read) & words(text)) >= 0.5 * len(words(text)), read


def test_dark_words_on_a_light_poster_are_read_as_well(hasher: Hasher) -> None:
    light = poster(ENGLISH, background=(245, 240, 220))
    light = light.point(lambda v: 255 - v)  # black words on a pale blue
    assert words(hasher.hash_bytes(png(light)).text) == words(ENGLISH)


def test_a_photo_without_words_has_no_text(hasher: Hasher) -> None:
    for name in ("astronaut", "coffee", "chelsea"):
        assert hasher.hash_bytes(png(sample_photo(name))).text is None, name


def test_a_caption_bar_over_a_photo_is_read(hasher: Hasher) -> None:
    photo = sample_photo("astronaut").resize((800, 600))
    framed = Image.new("RGB", (800, 720), "white")
    framed.paste(photo, (0, 120))
    ImageDraw.Draw(framed).text(
        (30, 35), "Brothers of the valley", font=ImageFont.truetype(LATIN, 44), fill="black"
    )
    assert {"brothers", "valley"} <= words(hasher.hash_bytes(png(framed)).text)


def test_text_is_not_read_unless_asked_for() -> None:
    with Hasher(HashOptions(ocr=(), features=False)) as hashing:
        assert hashing.hash_bytes(png(poster(ENGLISH))).text is None


def test_what_tesseract_adds_around_words_is_cleaned_and_long_text_is_cut() -> None:
    assert clean("\u200fسلام\u200e  world \n\n  two\tlines \n") == "سلام world\ntwo lines"
    assert clean(" \n\u200f\n") is None
    assert len(clean("word " * 2000) or "") == MAX_TEXT


def test_a_language_without_its_data_is_said_before_any_image_is_read() -> None:
    with pytest.raises(OcrUnavailable, match="tesseract-ocr-xyz"):
        check_languages(("eng", "xyz"))
    with pytest.raises(OcrUnavailable, match="xyz"):
        Hasher(HashOptions(ocr=("xyz",)))


def test_tessdata_prefix_names_the_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    with pytest.raises(OcrUnavailable, match=str(tmp_path)):
        check_languages(LANGUAGES)


def test_the_settings_read_the_default_languages_and_can_turn_reading_off() -> None:
    assert Settings.from_env({}).ocr_languages == LANGUAGES
    assert Settings.from_env({"POSTWATCH_OCR_LANGUAGES": "eng ara"}).ocr_languages == (
        "eng",
        "ara",
    )
    assert Settings.from_env({"POSTWATCH_OCR_LANGUAGES": ""}).ocr_languages == ()


def test_hash_prints_the_text_on_request(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    path.write_bytes(png(poster(ENGLISH)))
    [line] = CliRunner().invoke(main, ["hash", "--text", str(path)]).output.splitlines()
    assert words(json.loads(line)["text"]) == words(ENGLISH)
    [line] = CliRunner().invoke(main, ["hash", str(path)]).output.splitlines()
    assert "text" not in json.loads(line)


def test_hash_says_what_to_install_when_a_language_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    path.write_bytes(png(poster(ENGLISH)))
    result = CliRunner().invoke(
        main, ["hash", "--text", str(path)], env={"POSTWATCH_OCR_LANGUAGES": "eng xyz"}
    )
    assert result.exit_code == 1
    assert "tesseract-ocr-xyz" in result.output
    assert "POSTWATCH_OCR_LANGUAGES=" in result.output
