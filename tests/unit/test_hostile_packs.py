"""Rule packs from untrusted hands: refused with a clear error, or loaded and run within
bounds (no recursion crash, no backtracking blow-up, no alias expansion)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from postwatch.rules import Engine, PackError, load_pack, parse_pack
from postwatch.rules.language.loader import (
    MAX_BANK_FILE_BYTES,
    MAX_CONDITION_DEPTH,
    MAX_PACK_CHARS,
)
from postwatch.rules.matching.matchers.text import MAX_REGEXES, MAX_REPEAT
from tests.unit.rules.conftest import make_post


def nested(depth: int) -> str:
    condition = "{keywords: [x]}"
    for _ in range(depth):
        condition = "{any: [" + condition + "]}"
    return f"pack: p\nversion: 1\nrules:\n  - id: a\n    title: t\n    match: {condition}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(PackError) as caught:
        parse_pack(text, "p.yaml")
    return [str(p) for p in caught.value.problems]


def test_conditions_nested_within_the_limit_load_and_match() -> None:
    engine = Engine([parse_pack(nested(MAX_CONDITION_DEPTH - 1), "p.yaml")])
    assert [m.rule.id for m in engine.evaluate(make_post(text="x marks the spot"))] == ["a"]


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (
            MAX_CONDITION_DEPTH + 5,
            f"p.yaml:6: a: conditions nest deeper than {MAX_CONDITION_DEPTH}",
        ),
        (5000, "p.yaml:6: invalid YAML: nested too deeply"),
    ],
)
def test_deeper_nesting_is_refused_clearly(depth: int, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(nested(depth)))


def test_oversized_pack_is_refused_before_parsing() -> None:
    text = "pack: p\nversion: 1\n# " + "x" * MAX_PACK_CHARS + "\n"
    assert problems(text) == [
        f"p.yaml:0: pack is larger than {MAX_PACK_CHARS:,} characters: put large hash lists in"
        " bank files and large term lists in several packs"
    ]


def test_billion_laughs_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    assert problems(bomb) == [
        "p.yaml:2: invalid YAML: anchors and aliases are not allowed in rule packs"
    ]


@pytest.mark.parametrize("pattern", [r"(a)\1", r"foo(?=bar)", r"(?<!x)y"])
def test_regexes_that_need_backtracking_are_refused(pattern: str) -> None:
    text = (
        "pack: p\nversion: 1\nrules:\n  - id: r\n    title: t\n"
        f"    match: {{regex: ['{pattern}']}}\n"
    )
    found = problems(text)
    assert len(found) == 1
    assert found[0].startswith("p.yaml:6: r: ")


def test_catastrophic_pattern_for_backtracking_engines_runs_on_long_input() -> None:
    text = "pack: p\nversion: 1\nrules:\n  - id: r\n    title: t\n    match: {regex: ['(a+)+b']}\n"
    engine = Engine([parse_pack(text, "p.yaml")])
    assert engine.evaluate(make_post(text="a" * 100_000 + "c")) == []
    assert [m.rule.id for m in engine.evaluate(make_post(text="a" * 100_000 + "b"))] == ["r"]


def rule_pack(match: str, *, tests: str = "", banks: str = "") -> str:
    """A pack of one rule `r` whose match is on line 6 (plus 1 for each line of `banks`)."""
    return (
        f"pack: p\nversion: 1\n{banks}rules:\n  - id: r\n    title: t\n    match: {match}\n" + tests
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            rule_pack("{keywords: [x]}", tests="    tests:\n      match: [{text: x, author: 5}]\n"),
            ["p.yaml:8: r: tests match[0] is not a valid post: data.author must be object"],
        ),
        (
            rule_pack(
                "{keywords: [x]}", tests="    tests:\n      match: [{author: [[1, 2, 3]]}]\n"
            ),
            ["p.yaml:8: r: tests match[0] is not a valid post: data.author must be object"],
        ),
        (
            "pack: p\nversion: " + "9" * 5000 + "\n",
            ["p.yaml:2: invalid YAML: cannot read this value as int"],
        ),
        (
            "pack: p\nversion: 1\nrules:\n  - id: 2025-13-45\n",
            ["p.yaml:4: invalid YAML: cannot read this value as timestamp"],
        ),
    ],
)
def test_values_the_checks_did_not_expect_are_problems_of_the_pack(
    text: str, expected: list[str]
) -> None:
    assert problems(text) == expected


def bank_pack(folder: Path, file: str) -> Path:
    """A pack in `folder` whose bank `known` names `file` (on line 5)."""
    folder.mkdir(exist_ok=True)
    pack = folder / "pack.yaml"
    pack.write_text(
        rule_pack("{hashes: {bank: known}}", banks=f"banks:\n  known:\n    file: '{file}'\n")
    )
    return pack


def pack_problems(pack: Path) -> list[str]:
    with pytest.raises(PackError) as caught:
        load_pack(pack)
    return [str(p) for p in caught.value.problems]


PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (  # a field over the csv module's limit
            "list.csv",
            "signal_type,signal_str\npdq," + "a" * 200_000 + "\n",
            "2: not CSV: field larger than field limit",
        ),
        (  # an int of 5000 digits, more than int() reads
            "tat.json",
            '{"results": [{"hash_digest": ' + "1" * 5000 + "}]}",
            "1: a JSON number too long to read",
        ),
        (  # nested beyond the recursion limit
            "bank.jsonl",
            "[" * 100_000 + "]" * 100_000,
            "1: JSON nested deeper than a hash list is",
        ),
    ],
)
def test_a_bank_file_its_reader_would_fail_on_has_its_problem_by_line(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    (tmp_path / name).write_text(content)
    [problem] = pack_problems(bank_pack(tmp_path, name))
    assert problem.startswith(f"{tmp_path / name}:{expected}"), problem


def test_a_quality_that_is_no_number_of_ascii_digits_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(f"pdq,quality\n{PDQ},\u00b2\n{PDQ.replace('f', 'e')},90\n")
    bank = load_pack(bank_pack(tmp_path, "list.csv")).banks["known"]
    assert len(bank) == 2


OUTSIDE = "outside.txt"


@pytest.mark.parametrize(
    "name",
    [
        "../outside.txt",
        "{tmp}/outside.txt",
        "lists/../../outside.txt",
        "link",
        "/proc/self/environ",
    ],
)
def test_a_bank_file_outside_the_packs_folder_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / OUTSIDE).write_text(f"pdq {PDQ}\n")
    folder = tmp_path / "pack"
    (folder / "lists").mkdir(parents=True)
    (folder / "link").symlink_to(tmp_path / OUTSIDE)
    name = name.format(tmp=tmp_path)
    found = pack_problems(bank_pack(folder, name))
    assert found == [
        f"{folder / 'pack.yaml'}:5: bank 'known' file {name!r} is not inside the pack's folder"
    ]


def test_bank_files_inside_the_packs_folder_load_through_links_and_dots(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    (folder / "lists").mkdir(parents=True)
    (folder / "lists" / "known.txt").write_text(f"pdq {PDQ}\n")
    (folder / "link").symlink_to(folder / "lists" / "known.txt")
    for name in ["lists/known.txt", "lists/../lists/known.txt", "link", f"{folder}/link"]:
        pack = load_pack(bank_pack(folder, name))
        assert pack.banks["known"].counts()["pdq"] == 1


def test_a_bank_file_name_that_is_no_path_is_refused(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        rule_pack("{hashes: {bank: known}}", banks='banks:\n  known:\n    file: "a\\0b"\n')
    )
    assert pack_problems(pack) == [
        f"{pack}:5: bank 'known' file 'a\\x00b' cannot be read: a name no file can have"
    ]


@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
def test_a_bank_file_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "odd"
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)  # reading it would wait forever
    else:
        target.symlink_to("/dev/zero")  # reading it would never end
    found = pack_problems(bank_pack(tmp_path, "odd"))
    expected = "is not inside the pack's folder" if kind == "device" else "is not a regular file"
    assert found == [f"{tmp_path / 'pack.yaml'}:5: bank 'known' file 'odd' {expected}"]


def test_a_bank_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "big.txt").open("wb") as f:
        f.truncate(MAX_BANK_FILE_BYTES + 1)  # sparse: nothing is written
    assert pack_problems(bank_pack(tmp_path, "big.txt")) == [
        f"{tmp_path / 'pack.yaml'}:5: bank 'known' file 'big.txt' is larger than"
        f" {MAX_BANK_FILE_BYTES:,} bytes"
    ]


def test_a_pack_with_no_folder_names_no_files(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text(f"pdq {PDQ}\n")
    text = rule_pack("{hashes: {bank: known}}", banks="banks:\n  known:\n    file: list.txt\n")
    with pytest.raises(PackError) as caught:
        parse_pack(text, "p@v1")
    assert [str(p) for p in caught.value.problems] == [
        "p@v1:5: bank 'known' names a file, which a pack from the rules topic may not:"
        " `rules publish` puts the file's hashes in the pack"
    ]


@pytest.mark.parametrize(
    "pattern",
    [
        ".{0,10000}x.{0,10000}y",  # 89 s in hyperscan before it failed
        "abcdef.{0,150}ghijkl",  # 2.3 s
        "(ab.{0,20}){10}cd",  # nested repeats multiply
        "a{99999999999999999999999}",
    ],
)
def test_large_bounded_repeats_are_refused_before_compiling(pattern: str) -> None:
    started = time.perf_counter()
    [problem] = problems(rule_pack(f"{{regex: ['{pattern}']}}"))
    assert problem.startswith(f"p.yaml:6: r: regex /{pattern}/ repeats too much (")
    assert problem.endswith(f"; at most {MAX_REPEAT} in a regex)")
    assert time.perf_counter() - started < 2


def test_bounded_repeats_within_the_limit_load() -> None:
    text = rule_pack(r"{regex: ['abcdef.{0,50}ghijkl.{0,50}mnopqr', '\d{2,4}\s+x{3}']}")
    assert parse_pack(text, "p.yaml").rules[0].id == "r"


def many_regexes(pack: str, count: int) -> str:
    patterns = "".join(f"        - '{pack}{i}y'\n" for i in range(count))
    return rule_pack("\n      regex:\n" + patterns).replace("pack: p", f"pack: {pack}")


def test_a_pack_with_too_many_regexes_is_refused_at_the_first_over() -> None:
    assert problems(many_regexes("p", MAX_REGEXES + 2)) == [
        f"p.yaml:{8 + MAX_REGEXES}: r: more than {MAX_REGEXES:,} regexes in the pack"
    ]


def test_packs_with_too_many_regexes_together_are_not_compiled() -> None:
    half = MAX_REGEXES // 2 + 1
    packs = [parse_pack(many_regexes(name, half), f"{name}.yaml") for name in ("a", "b")]
    with pytest.raises(PackError) as caught:
        Engine(packs)
    assert [str(p) for p in caught.value.problems] == [
        f"b.yaml:0: the packs hold {2 * half:,} regexes together, more than {MAX_REGEXES:,}"
    ]
