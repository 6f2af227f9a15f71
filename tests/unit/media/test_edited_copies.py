"""Edited copies of a photo match it through a bank; unrelated photos do not.

The edits are made here from the original, with ordinary tools and settings, and were not
used to tune anything. PDQ is known not to survive crops of more than a few percent,
added borders or small rotations; those are not claimed here.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from postwatch.media import HashOptions, MediaHashes, hash_bytes, hash_path
from postwatch.rules.matching.banks import HashBank
from tests.conftest import SHARED_DATA

PDQ_DATA = SHARED_DATA / "pdq"
ORIGINAL = PDQ_DATA / "data" / "reg-test-input" / "dih" / "bridge-1-original.jpg"


def _encode(image: Image.Image, fmt: str = "JPEG", **options: int) -> bytes:
    out = BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


Edit = Callable[[Image.Image], bytes]

EDITS: dict[str, Edit] = {
    "half size": lambda im: _encode(im.resize((im.width // 2, im.height // 2))),
    "thumbnail": lambda im: _encode(im.resize((320, 200))),
    "JPEG quality 20": lambda im: _encode(im, quality=20),
    "brighter": lambda im: _encode(ImageEnhance.Brightness(im).enhance(1.3)),
    "more contrast": lambda im: _encode(ImageEnhance.Contrast(im).enhance(1.5)),
    "blurred": lambda im: _encode(im.filter(ImageFilter.GaussianBlur(3))),
    "sharpened": lambda im: _encode(im.filter(ImageFilter.SHARPEN)),
    "grey PNG": lambda im: _encode(im.convert("L"), "PNG"),
    "washed out WebP": lambda im: _encode(ImageEnhance.Color(im).enhance(0.2), "WEBP"),
}

UNRELATED = [
    "python-threatexchange-resources/LA.png",
    "python-threatexchange-resources/I16.png",
    "python-threatexchange-resources/rgb.jpeg",
    "python-threatexchange-resources/random_image_from_base64.png",
    "data/misc-images/c.png",
    "data/misc-images/wee.jpg",
    "data/reg-test-input/pen-and-coaster.png",
]


@pytest.fixture(scope="module")
def original() -> MediaHashes:
    return hash_path(ORIGINAL, HashOptions(dihedral=True))


@pytest.fixture(scope="module")
def bank(original: MediaHashes) -> HashBank:
    """A bank with the original's PDQ and, as HMA can be asked to, its dihedral variants."""
    bank = HashBank("known-media")
    bank.add_many(("pdq", value, original.pdq_quality) for value in original.dihedral.values())
    return bank


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_copy_matches_the_original(
    edit: str, original: MediaHashes, bank: HashBank
) -> None:
    copy = hash_bytes(EDITS[edit](Image.open(ORIGINAL).convert("RGB")), HashOptions())
    hits = bank.lookup(copy)
    assert [h.value for h in hits] == [original.pdq]
    assert hits[0].distance <= 31


@pytest.mark.parametrize("variant", ["F.webp", "HSV.webp", "LAB.webp", "CMYK.jpg", "1.png"])
def test_a_copy_in_another_colour_mode_matches(variant: str, bank: HashBank) -> None:
    copy = hash_path(PDQ_DATA / "data" / "misc-images" / "modes" / variant, HashOptions())
    assert bank.lookup(copy)


def test_rotated_and_flipped_copies_match_through_the_dihedral_variants(bank: HashBank) -> None:
    folder = PDQ_DATA / "data" / "reg-test-input" / "dih"
    copies = sorted(folder.glob("bridge-[2-8]-*.jpg"))
    assert len(copies) == 7
    for path in copies:
        assert bank.lookup(hash_path(path, HashOptions())), path.name


@pytest.mark.parametrize("path", UNRELATED)
def test_an_unrelated_photo_does_not_match(path: str, bank: HashBank) -> None:
    assert bank.lookup(hash_path(PDQ_DATA / path, HashOptions())) == []
