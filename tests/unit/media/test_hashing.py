"""Hashing media: Meta's reference vectors, the caps on hostile input, formats."""

from __future__ import annotations

import csv
import hashlib
import json
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from postwatch.media import (
    DecodeError,
    HashOptions,
    TooLarge,
    Unreadable,
    hash_bytes,
    hash_path,
    sniff,
)
from postwatch.rules.matching.features import Features, inliers
from tests.conftest import SHARED_DATA

PDQ_DATA = SHARED_DATA / "pdq"
EXPECTED = PDQ_DATA / "expected"


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def rows(name: str) -> list[dict[str, str]]:
    with (EXPECTED / name).open(newline="") as file:
        return list(csv.DictReader(file))


def test_python_threatexchange_plain_vectors_are_reproduced_exactly() -> None:
    checked = 0
    for row in rows("python_threatexchange_expected.csv"):
        path = row["local_path"]
        if "(" in path and "Java impl" not in path:
            continue  # dihedral and unletterbox rows: the next tests
        hashes = hash_path(PDQ_DATA / path.split(" (")[0], HashOptions())
        assert hashes.pdq == row["expected_pdq_hex"], path
        if row["expected_quality"]:
            assert hashes.pdq_quality == int(row["expected_quality"]), path
        checked += 1
    assert checked == 7


def test_python_threatexchange_dihedral_vectors_are_reproduced_exactly() -> None:
    expected = {
        row["local_path"].split("(")[1].split()[0].lower(): row["expected_pdq_hex"]
        for row in rows("python_threatexchange_expected.csv")
        if "dihedral variant" in row["local_path"]
    }
    hashes = hash_path(
        PDQ_DATA / "python-threatexchange-resources" / "LA.png", HashOptions(dihedral=True)
    )
    assert dict(hashes.dihedral) == expected
    assert len(expected) == 8


def test_sha256_vector() -> None:
    [row] = rows("sha256_expected.csv")
    assert hash_path(PDQ_DATA / row["local_path"], HashOptions()).sha256 == row["expected_sha256"]


@pytest.mark.parametrize(
    ("table", "path_column", "hash_column", "available"),
    [
        ("pdqhashing_python_pdq_test.csv", "local_path", "expected_pdq_hex", 12),
        ("cpp_pdq_photo_hasher_readme.csv", "local_path", "expected_pdq_hex", 8),
        ("wasm_PDQMD5TestData.csv", "FilePath", "Hash", 4),
    ],
)
def test_other_implementations_agree_within_their_tolerance(
    table: str, path_column: str, hash_column: str, available: int
) -> None:
    checked = 0
    for row in rows(table):
        path = PDQ_DATA / row[path_column].removeprefix("../../../../")
        expected = row[hash_column]
        if not path.exists() or len(expected) != 64:
            continue  # files the snapshot does not hold (see SOURCES.md), video MD5 rows
        got = hash_path(path, HashOptions()).pdq
        assert got is not None
        assert distance(got, expected) <= 16, path
        checked += 1
    assert checked == available


def test_formats_are_told_by_magic_bytes_not_names(tmp_path: Path) -> None:
    source = PDQ_DATA / "python-threatexchange-resources" / "rgb.jpeg"
    renamed = tmp_path / "picture.png"
    renamed.write_bytes(source.read_bytes())
    hashes = hash_path(renamed, HashOptions())
    assert (hashes.kind, hashes.format) == ("image", "jpeg")
    assert hashes.pdq == hash_path(source, HashOptions()).pdq
    webp = hash_path(PDQ_DATA / "data" / "misc-images" / "modes" / "RGBA.png", HashOptions())
    assert webp.format == "png"
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") is not None
    assert sniff(b"<html>") is None


def test_gif_is_hashed_by_its_first_frame() -> None:
    first = Image.new("RGB", (128, 128), "white")
    first.paste((0, 0, 0), (0, 0, 64, 128))
    second = Image.new("RGB", (128, 128), "white")
    second.paste((0, 0, 0), (0, 0, 128, 64))
    gif = BytesIO()
    first.save(gif, format="GIF", save_all=True, append_images=[second])
    png = BytesIO()
    Image.open(BytesIO(gif.getvalue())).convert("RGB").save(png, format="PNG")
    hashed = hash_bytes(gif.getvalue(), HashOptions())
    assert hashed.format == "gif"
    assert hashed.pdq == hash_bytes(png.getvalue(), HashOptions()).pdq
    second_png = BytesIO()
    second.save(second_png, format="PNG")
    other = hash_bytes(second_png.getvalue(), HashOptions()).pdq
    assert hashed.pdq is not None
    assert other is not None
    assert distance(hashed.pdq, other) > 31


def test_bytes_of_no_known_format_get_exact_hashes_only() -> None:
    data = b"%PDF-1.7 not an image"
    hashed = hash_bytes(data, HashOptions())
    assert (hashed.kind, hashed.format, hashed.pdq) == ("other", None, None)
    assert hashed.sha256 == hashlib.sha256(data).hexdigest()
    assert hashed.md5 == hashlib.md5(data).hexdigest()  # noqa: S324 - MD5 is the format here


def test_a_file_over_the_byte_cap_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + bytes(2000))
    with pytest.raises(TooLarge, match="2003 bytes"):
        hash_path(big, HashOptions(max_bytes=1000))
    with pytest.raises(TooLarge):
        hash_bytes(big.read_bytes(), HashOptions(max_bytes=1000))


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header for a huge image, with almost no pixel data behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_an_image_over_the_pixel_cap_is_refused_undecoded() -> None:
    with pytest.raises(TooLarge, match="9000x9000 pixels"):
        hash_bytes(_png_claiming(9000, 9000), HashOptions())
    with pytest.raises(TooLarge, match="decompression bomb"):  # Pillow's check, above its cap
        hash_bytes(_png_claiming(60000, 60000), HashOptions(max_pixels=10**12))
    with pytest.raises(TooLarge, match="256x256"):
        hash_path(
            PDQ_DATA / "python-threatexchange-resources" / "LA.png", HashOptions(max_pixels=1000)
        )


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff" + b"junk" * 100,  # JPEG magic, then garbage
        b"\x89PNG\r\n\x1a\n" + b"\0" * 50,  # PNG magic, broken header
        b"GIF89a",  # nothing after the magic
    ],
)
def test_broken_images_are_decode_errors(data: bytes) -> None:
    with pytest.raises(DecodeError, match="not a valid"):
        hash_bytes(data, HashOptions())


def test_a_truncated_jpeg_is_a_decode_error() -> None:
    data = (PDQ_DATA / "python-threatexchange-resources" / "rgb.jpeg").read_bytes()
    with pytest.raises(DecodeError, match="not a valid jpeg"):
        hash_bytes(data[: len(data) // 2], HashOptions())


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(Unreadable, match=r"missing\.jpg"):
        hash_path(tmp_path / "missing.jpg", HashOptions())


def test_json_form_leaves_out_what_does_not_apply() -> None:
    hashed = hash_path(PDQ_DATA / "python-threatexchange-resources" / "rgb.jpeg", HashOptions())
    assert set(json.loads(hashed.encode())) == {
        "kind",
        "format",
        "size",
        "sha256",
        "md5",
        "pdq",
        "pdq_quality",
        "pdq_mirror",
        "features",
        "features_mirror",
    }  # no text: a photo without words


def test_an_image_has_local_features_unless_they_are_not_asked_for() -> None:
    path = PDQ_DATA / "data" / "reg-test-input" / "dih" / "bridge-1-original.jpg"
    hashes = hash_path(path, HashOptions())
    assert hashes.features is not None
    features = Features.decode(hashes.features)
    assert inliers(features, features) > 200
    assert hash_path(path, HashOptions(features=False)).features is None
    assert hash_bytes(b"no media format at all", HashOptions()).features is None


def test_an_image_has_the_pdq_of_its_mirror_image() -> None:
    folder = PDQ_DATA / "data" / "reg-test-input" / "dih"
    original = hash_path(folder / "bridge-1-original.jpg", HashOptions(dihedral=True))
    flipped = hash_path(folder / "bridge-6-flipy.jpg", HashOptions())
    assert original.pdq_mirror == original.dihedral["flipy"]
    assert flipped.pdq is not None
    assert distance(original.pdq_mirror, flipped.pdq) <= 31
    assert distance(original.pdq_mirror, original.pdq or "") > 100


def test_an_image_has_the_local_features_of_its_mirror_image() -> None:
    folder = PDQ_DATA / "data" / "reg-test-input" / "dih"
    original = hash_path(folder / "bridge-1-original.jpg", HashOptions(ocr=()))
    flipped = hash_path(folder / "bridge-6-flipy.jpg", HashOptions(ocr=()))
    assert original.features_mirror is not None
    assert flipped.features is not None
    assert original.features is not None
    own, mirror = Features.decode(original.features), Features.decode(original.features_mirror)
    assert inliers(Features.decode(flipped.features), mirror) > 100  # the flipped file's own
    assert inliers(Features.decode(flipped.features), own) < 12  # ORB is not mirror-invariant
    assert (
        hash_path(folder / "bridge-1-original.jpg", HashOptions(features=False)).features_mirror
        is None
    )
