"""Mutated packs: whatever a pack holds, loading it gives a `Pack` or a `PackError`, never
another exception (a worker turns anything else into a crash on every restart).

The packs of the repository are mutated: a value replaced by one of another type, size or
nesting, an unknown key added, a key removed, a huge integer, odd Unicode; and the YAML
text itself cut or spliced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.rules import Pack, PackError, load_pack, parse_pack
from tests.mutations import locations

ROOT = Path(__file__).parents[4]
SEEDS = sorted(
    [
        *(ROOT / "tests" / "files" / "packs").glob("*.yaml"),
        *(ROOT / "examples" / "packs").glob("*.yaml"),
        ROOT / "postwatch" / "data" / "demo" / "pack.yaml",
    ]
)
DOCS = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in SEEDS]
HUGE = "HUGE-INTEGER-HERE"  # replaced in the text: such an int cannot be written by str()
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"

odd_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(
    [
        "",
        " ",
        "\u202e\u200bx",
        "\x00",
        "𝔁𝔂𝔃",
        "x" * 100_000,
        "(a+)+$",
        ".{0,10000}x",
        "$nope",
        "../outside.txt",
        "/proc/self/environ",
        "/dev/zero",
        "list.txt",
        "long-field.csv",
        "link-out",
        HUGE,
        "2025-13-45",
        "-1",
        "yes",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | odd_text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)


file_names = (
    st.sampled_from(
        [
            *("list.txt", "long-field.csv", "link-out", "../outside.txt", "/proc/self/environ"),
            *("/dev/zero", "a\x00b", ".", "", "missing.txt", "list.txt/..", "x" * 5000),
        ]
    )
    | values
)


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"any": [value]}
    return value


@st.composite
def mutated(draw: st.DrawFn) -> str:
    doc = yaml.safe_load(yaml.safe_dump(draw(st.sampled_from(DOCS))))  # a fresh copy
    for _ in range(draw(st.integers(1, 4))):
        place = draw(st.sampled_from(list(locations(doc))))
        if not place:
            continue
        *parents, last = place
        parent = doc
        for step in parents:
            parent = parent[step]
        kind = draw(st.sampled_from(["replace", "add", "remove", "wrap", "deep", "file"]))
        if kind == "file":  # a bank's file: the names of the folder's files, and odd ones
            bank = {"file": draw(file_names), **draw(st.sampled_from([{}, {"format": "csv"}]))}
            doc["banks"] = {"b": bank}
        elif kind == "replace":
            parent[last] = draw(values)
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(odd_text)] = draw(values)
        elif kind == "add":
            parent.append(draw(values))
        elif kind == "remove":
            del parent[last]
        elif kind == "wrap":
            parent[last] = draw(st.sampled_from([[parent[last]], {"x": parent[last]}]))
        else:
            parent[last] = deep(draw(st.integers(1, 40)))
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    text = text.replace(HUGE, "9" * 5000)
    if draw(st.booleans()):
        return text
    at = draw(st.integers(0, len(text)))
    splice = odd_text | st.sampled_from(
        ["&a x", "*a", "!!python/object:os.system", "!!binary", "{", "- ", "\t", "[" * 5000]
    )
    return text[:at] + draw(splice) + text[at:]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pack's folder with the files mutated banks may name, good and hostile."""
    root = tmp_path_factory.mktemp("mutations")
    (root / "outside.txt").write_text(f"pdq {PDQ}\n")
    packs = root / "packs"
    packs.mkdir()
    (packs / "list.txt").write_text(f"pdq {PDQ}\n")
    (packs / "long-field.csv").write_text("signal_type,signal_str\npdq," + "a" * 200_000 + "\n")
    (packs / "link-out").symlink_to(root / "outside.txt")
    return packs


def loads_or_refuses(load: Any) -> None:
    try:
        pack = load()
    except PackError as exc:
        problems = exc.problems
    else:
        assert isinstance(pack, Pack)
        return
    assert problems


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_a_mutated_pack_loads_or_is_refused_with_its_problems(text: str) -> None:
    loads_or_refuses(lambda: parse_pack(text, "fuzz.yaml"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_a_mutated_pack_file_loads_or_is_refused_with_its_problems(folder: Path, text: str) -> None:
    path = folder / "pack.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    loads_or_refuses(lambda: load_pack(path))
