"""Local features find an image again after the edits of a mirror account (crops, a caption
bar, a small rotation, a screenshot's frame, a collage), and never join unrelated photos.

The originals and the unrelated photos are scikit-image's sample photos and the PDQ
reference photos; the edits are `postwatch.bench.edits`, made here from the original.
"""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest
from PIL import Image

from postwatch.bench.edits import EDITS
from postwatch.rules.matching.features import (
    FEATURES,
    MIN_INLIERS,
    FeatureIndex,
    Features,
    extract,
    inliers,
)
from tests.conftest import SHARED_DATA
from tests.factories import sample_photo

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")
UNRELATED = ("horse", "moon", "coins", "clock", "brick", "page", "text", "hubble_deep_field")
BRIDGE = SHARED_DATA / "pdq" / "data" / "reg-test-input" / "dih" / "bridge-1-original.jpg"
PEN = SHARED_DATA / "pdq" / "data" / "reg-test-input" / "pen-and-coaster.png"
FLIPS = ("flip", "flip + crop 10 %")  # ORB is not mirror-invariant: a mirror image's own


def features_of(image: Image.Image) -> Features:
    return extract(np.asarray(image.convert("L")))


@pytest.fixture(scope="module")
def originals() -> dict[str, Image.Image]:
    found = {name: sample_photo(name) for name in PHOTOS}
    found["bridge"] = Image.open(BRIDGE).convert("RGB")
    return found


@pytest.fixture(scope="module")
def unrelated() -> dict[str, Image.Image]:
    found = {name: sample_photo(name) for name in UNRELATED}
    found["pen"] = Image.open(PEN).convert("RGB")
    return found


@pytest.mark.parametrize("edit", sorted(set(EDITS) - set(FLIPS)))
def test_every_edited_copy_shares_enough_inliers_with_its_original(
    edit: str, originals: dict[str, Image.Image], unrelated: dict[str, Image.Image]
) -> None:
    other = unrelated["horse"]
    for name, image in originals.items():
        found = inliers(features_of(EDITS[edit](image, other)), features_of(image))
        assert found >= MIN_INLIERS, (name, found)


@pytest.mark.parametrize("edit", FLIPS)
def test_a_mirrored_copy_shares_enough_inliers_through_its_mirror_image(
    edit: str, originals: dict[str, Image.Image], unrelated: dict[str, Image.Image]
) -> None:
    other = unrelated["horse"]
    for name, image in originals.items():
        copy = np.asarray(EDITS[edit](image, other).convert("L"))
        assert inliers(extract(copy), features_of(image)) < MIN_INLIERS, name
        found = inliers(extract(np.fliplr(copy)), features_of(image))  # its features_mirror
        assert found >= MIN_INLIERS, (name, found)


def test_unrelated_photos_never_share_enough_inliers(
    originals: dict[str, Image.Image], unrelated: dict[str, Image.Image]
) -> None:
    every = {**originals, **unrelated}
    features = {name: features_of(image) for name, image in every.items()}
    pairs = [(a, b) for a in every for b in every if a != b]
    assert len(pairs) > 150
    most = max(pairs, key=lambda pair: inliers(features[pair[0]], features[pair[1]]))
    assert inliers(features[most[0]], features[most[1]]) < MIN_INLIERS, most


def test_an_index_finds_the_original_among_many_and_forgets_it(
    originals: dict[str, Image.Image], unrelated: dict[str, Image.Image]
) -> None:
    index = FeatureIndex()
    for name, image in {**originals, **unrelated}.items():
        index.add(name, features_of(image))
    query = features_of(EDITS["caption bar"](originals["coffee"], unrelated["moon"]))
    assert [key for key, _ in index.search(query)] == ["coffee"]
    collage = features_of(EDITS["collage"](originals["astronaut"], sample_photo("gravel")))
    assert [key for key, _ in index.search(collage)] == ["astronaut"]
    index.remove("coffee")
    assert index.search(query) == []
    assert index.exact  # until the inverted file is built again
    assert index.search(features_of(Image.new("RGB", (300, 200), "grey"))) == []


def test_features_survive_their_text_form(originals: dict[str, Image.Image]) -> None:
    features = features_of(originals["rocket"])
    assert 200 < len(features) <= FEATURES
    text = features.encode()
    again = Features.decode(text)
    assert np.array_equal(again.descriptors, features.descriptors)
    assert np.abs(again.points - features.points).max() <= 1 / 16
    assert inliers(again, features) > 200
    assert len(text) <= 15_364  # what Post v1 allows


def _raw(version: int, count: int, body: bytes) -> str:
    return base64.b64encode(struct.pack("<BH", version, count) + body).decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not base64 at all!", "not base64"),
        ("", "too short"),
        (_raw(2, 0, b""), "version 2"),
        (_raw(1, 2, b"\0" * 71), "do not hold 2"),
        (_raw(1, FEATURES + 1, b"\0" * 36 * (FEATURES + 1)), f"do not hold {FEATURES + 1}"),
    ],
)
def test_a_string_that_is_no_features_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Features.decode(text)


def test_an_image_without_corners_has_no_features() -> None:
    assert len(features_of(Image.new("RGB", (640, 480), "white"))) == 0
    assert len(extract(np.zeros((1, 1), np.uint8))) == 0
    assert len(extract(np.zeros((20, 4000), np.uint8))) == 0


def test_a_large_index_finds_the_same_while_and_after_it_is_built_in_the_background(
    originals: dict[str, Image.Image],
) -> None:
    rng = np.random.default_rng(7)
    index = FeatureIndex()
    index.add("coffee", features_of(originals["coffee"]))
    for number in range(60):  # past EXACT_UP_TO descriptors: an inverted file is due
        points = rng.uniform(0, 768, (FEATURES, 2)).astype(np.float32)
        index.add(number, Features(points, rng.integers(0, 256, (FEATURES, 32), np.uint8)))
    query = features_of(EDITS["caption bar"](originals["coffee"], originals["coffee"]))
    before = index.search(query)  # the exact index, while the inverted file is built
    index.wait()
    assert not index.exact
    index.add("camera", features_of(originals["camera"]))  # into the built index
    after = index.search(query)
    assert [key for key, _ in before] == [key for key, _ in after] == ["coffee"]
    camera = features_of(EDITS["crop 10 %"](originals["camera"], originals["camera"]))
    assert [key for key, _ in index.search(camera)] == ["camera"]
    index.remove("coffee")
    assert index.search(query) == []
    assert index.exact  # until the inverted file is built again
    assert [key for key, _ in index.search(camera)] == ["camera"]
