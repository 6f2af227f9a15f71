"""Mirror detection as a whole: the `Tracker` runs every check over a scenario through
`postwatch match`, which applies it as the workers do, in file order; the images are made
with Pillow from the PDQ reference images and hashed with postwatch's own hashing."""

from __future__ import annotations

from pathlib import Path

import msgspec

from postwatch.bench.edits import EDITS
from postwatch.rules.detectors.reappearance import FEATURE_SEARCHES
from postwatch.rules.matching.features import MIN_INLIERS
from tests.factories import sample_photo
from tests.unit.rules.detectors.scenario import (
    EDITED,
    IMAGES,
    STATEMENT,
    image_hashes,
    image_pdq,
    post,
    run_match,
)


def test_a_mirror_account_reposting_an_edited_statement_and_image_is_caught(
    tmp_path: Path,
) -> None:
    original = image_pdq(IMAGES / "b.jpg")
    copy = image_pdq(IMAGES / "b.jpg", size=(300, 220), fmt="JPEG")
    assert original != copy  # the copy really is another image file
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", STATEMENT, pdq=original, name="Example Front"),
            post("2", "new", EDITED, minutes=5, handle="examp1e.front2", pdq=copy),
            post("3", "garden", "Tomatoes want sun and water every day in July.", minutes=6),
            post("4", "garden", EDITED.replace("🔥", ""), minutes=7, handle="gardenclub"),
        ],
    )
    kinds = [(a["post"]["id"], a["kind"]) for a in alerts]
    assert kinds == [
        ("test:1", "rule"),
        ("test:2", "reappearance"),  # the text
        ("test:2", "reappearance"),  # the image
        ("test:2", "lookalike_account"),
        ("test:2", "successor"),  # a look-alike that re-posts the account's statement
        ("test:4", "reappearance"),  # the text again, from an account that looks like no one
    ]
    text, image = alerts[1]["evidence"][0], alerts[2]["evidence"][0]
    for evidence in (text, image):
        assert evidence["original_post_id"] == "test:1"
        assert evidence["original_author_id"] == "test:front"
        assert evidence["original_alert_id"] == alerts[0]["alert_id"]
        assert evidence["relation"] == "mirror"
    assert text["type"] == "text_fingerprint"
    assert 0.4 <= text["similarity"] < 1.0
    assert (image["type"], image["field"], image["value"]) == ("pdq", "media[0]", original)
    assert 0 < image["distance"] <= 31
    [lookalike] = alerts[3]["evidence"]
    assert lookalike["watched_account_id"] == "test:front"
    assert (lookalike["field"], lookalike["matched"]) == ("author.handle", "examplefrontz")


def test_cropped_captioned_mirrored_and_mirrored_cropped_copies_of_a_learned_photo_are_caught(
    tmp_path: Path,
) -> None:
    photo = sample_photo("astronaut")
    original = image_hashes(photo)
    edited = EDITS["caption bar"](EDITS["crop 25 % left"](photo, photo), photo)
    copy = image_hashes(edited, "JPEG")
    assert original.pdq
    assert copy.pdq
    assert (int(original.pdq, 16) ^ int(copy.pdq, 16)).bit_count() > 31  # PDQ misses it
    flipped_cropped = image_hashes(EDITS["flip + crop 10 %"](photo, photo), "JPEG")
    assert flipped_cropped.pdq
    assert (int(original.pdq_mirror or "", 16) ^ int(flipped_cropped.pdq, 16)).bit_count() > 31
    unrelated = image_hashes(sample_photo("coffee"))
    garbled = msgspec.structs.replace(unrelated, features="AgAA")  # base64 of no features
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", STATEMENT, image=original),
            post("2", "new", "look what they posted", minutes=5, image=copy),
            post("3", "cafe", "my morning coffee", minutes=6, image=unrelated),
            post("4", "odd", "my morning coffee", minutes=7, image=garbled),
            post(
                "5", "flip", "mirrored", minutes=8, image=image_hashes(EDITS["flip"](photo, photo))
            ),
            post("6", "flip", "again", minutes=9, image=flipped_cropped),
        ],
    )
    assert [(a["post"]["id"], a["kind"]) for a in alerts] == [
        ("test:1", "rule"),
        ("test:2", "reappearance"),
        ("test:5", "reappearance"),  # by the PDQ of the original's mirror image
        ("test:6", "reappearance"),  # by the local features of its mirror image
    ]
    [mirrored] = alerts[3]["evidence"]
    assert (mirrored["type"], mirrored["matched"]) == ("local_features", "mirror image")
    assert mirrored["inliers"] >= MIN_INLIERS
    assert alerts[2]["evidence"][0]["type"] == "pdq"
    assert alerts[2]["evidence"][0]["value"] == original.pdq_mirror
    [evidence] = alerts[1]["evidence"]
    assert (evidence["type"], evidence["field"]) == ("local_features", "media[0]")
    assert evidence["inliers"] >= MIN_INLIERS
    assert (evidence["original_post_id"], evidence["relation"]) == ("test:1", "mirror")


def test_a_post_with_many_images_is_searched_by_the_features_of_its_first_16(
    tmp_path: Path,
) -> None:
    photo = sample_photo("astronaut")
    copy = image_hashes(EDITS["caption bar"](photo, photo), "JPEG")
    many = post("2", "many", "so many", minutes=1, image=copy)
    many["media"] = [
        {"kind": "image", "features": copy.features} for _ in range(FEATURE_SEARCHES + 4)
    ]
    alerts = run_match(tmp_path, [post("1", "front", STATEMENT, image=image_hashes(photo)), many])
    fields = sorted(
        (e["field"] for a in alerts if a["kind"] == "reappearance" for e in a["evidence"]),
        key=lambda field: int(field[6:-1]),
    )
    assert fields == [f"media[{i}]" for i in range(FEATURE_SEARCHES)]
