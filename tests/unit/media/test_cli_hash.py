"""`postwatch hash FILE…`: one JSON line a file, errors included, exit status 1 on any."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from click.testing import CliRunner

from postwatch.cli import main
from postwatch.cli.match import hash_files
from postwatch.media import HashOptions
from postwatch.rules.matching.features import Features
from tests.conftest import SHARED_DATA

RESOURCES = SHARED_DATA / "pdq" / "python-threatexchange-resources"


def test_hash_prints_a_json_line_per_file() -> None:
    result = CliRunner().invoke(
        main, ["hash", str(RESOURCES / "I16.png"), str(RESOURCES / "sample-b.jpg")]
    )
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["file"], x["pdq"], x["pdq_quality"]) for x in lines] == [
        (
            str(RESOURCES / "I16.png"),
            "de2ef0e99ecdfc1d248a0eb055f023d1d61e79c3920cbb55d561c02accab1763",
            36,
        ),
        (
            str(RESOURCES / "sample-b.jpg"),
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            100,
        ),
    ]
    assert lines[1]["sha256"] == "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
    assert "dihedral" not in lines[0]
    assert "features" not in lines[0]


def test_hash_gives_dihedral_variants_on_request() -> None:
    result = CliRunner().invoke(main, ["hash", "--dihedral", str(RESOURCES / "LA.png")])
    assert result.exit_code == 0
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["dihedral"]["rotate90"] == (
        "1f70cbbc77edc5f9524faa1b18f3b76cd0a04a833e20f645d229d0acc8499c56"
    )
    assert len(line["dihedral"]) == 8


def test_hash_gives_local_features_on_request() -> None:
    path = RESOURCES / "sample-b.jpg"
    result = CliRunner().invoke(main, ["hash", "--features", str(path)])
    assert result.exit_code == 0
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    features = Features.decode(line["features"])
    assert features.encode() == line["features"]
    assert len(features) > 100


def test_files_that_cannot_be_hashed_get_error_lines_and_exit_status_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + b"junk" * 100)
    result = CliRunner().invoke(
        main,
        [
            "hash",
            "--max-bytes",
            "150000",
            str(broken),
            str(RESOURCES / "LA.png"),
            str(tmp_path / "missing.png"),
            str(RESOURCES / "sample-b.jpg"),
        ],
    )
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x.get("error") for x in lines] == ["decode", None, "unreadable", "too_large"]
    assert lines[1]["pdq_quality"] == 100
    assert "3 of 4 files not hashed" in result.stderr


def test_file_names_that_are_no_utf8_and_controls_in_them_are_printed_escaped(
    tmp_path: Path,
) -> None:
    odd = tmp_path / os.fsdecode(b"photo-\xff-\x1b]0;owned\x07.bin")
    odd.write_bytes(b"not an image")
    result = CliRunner().invoke(main, ["hash", str(odd), str(tmp_path / os.fsdecode(b"gone-\xfe"))])
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout
    done, missing = (json.loads(line) for line in result.stdout.splitlines())
    assert done["file"].endswith("photo-\\udcff-\x1b]0;owned\x07.bin")  # escapes in the JSON
    assert done["sha256"] == hashlib.sha256(b"not an image").hexdigest()
    assert missing["error"] == "unreadable"
    assert missing["file"].endswith("gone-\\udcfe")


def test_the_pixel_cap_of_hash_is_the_hashing_default() -> None:
    [option] = [p for p in hash_files.params if p.name == "max_pixels"]
    assert option.default == HashOptions().max_pixels
