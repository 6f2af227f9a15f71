"""Rule packs from untrusted hands: refused with a clear error, or loaded and run within
bounds (no recursion crash, no backtracking blow-up, no alias expansion)."""

from __future__ import annotations

import pytest

from postwatch.rules import Engine, PackError, parse_pack
from postwatch.rules.language.loader import MAX_CONDITION_DEPTH, MAX_PACK_CHARS
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
        (5000, "p.yaml:0: invalid YAML: nested too deeply"),
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
