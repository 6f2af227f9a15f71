"""What a regex may cost before it is compiled: bounded repeats are counted from the pattern
(`{n,m}` bounds, nested ones multiplied) and compiling runs in a child process with a time
limit."""

from __future__ import annotations

import pytest

from postwatch.rules.matching.matchers.text import MAX_REPEAT, check_regexes


def too_much(cost: int) -> str:
    return (
        f"repeats too much ({cost:,} in all: {{n,m}} bounds, nested ones multiplied;"
        f" at most {MAX_REPEAT} in a regex)"
    )


@pytest.mark.parametrize(
    ("pattern", "cost"),
    [
        (".{0,10000}x.{0,10000}y", 20_000),
        ("(ab.{0,20}){10}cd", 220),  # 10 times a group of 2 + 20
        ("(?:a{10}|b{20}){6}", 180),  # alternatives counted as if all were taken
        ("a{101}", 101),
        ("a{101,}", 101),  # at least 101: the open end costs no more than a `+`
        ("a{,150}", 150),  # read as a repeat, though some dialects take it literally
        ("x{99999999999999999999999999}", 10_000_000),  # counted no further than that
    ],
)
def test_bounded_repeats_over_the_limit_are_refused_with_their_cost(
    pattern: str, cost: int
) -> None:
    assert check_regexes([pattern]) == {0: too_much(cost)}


@pytest.mark.parametrize(
    "pattern",
    [
        r"a\{1000}",  # an escaped brace is a literal
        "[{1000}]x",  # so is one in a class
        r"[\]{1000}]x",
        r"\x{1000}",  # a code point
        r"\Q{1000}\Ex",  # quoted
        "a{50}b{50}",  # 100: at the limit
        "(?:a.{0,9}){10}",
        "sample\\s+brigade\\s+\\d{2,4}",
    ],
)
def test_what_repeats_little_or_only_looks_like_a_repeat_passes(pattern: str) -> None:
    assert check_regexes([pattern]) == {}


@pytest.mark.parametrize("pattern", ["(?#{1000})x", "{1000}x"])  # a comment; nothing to repeat
def test_what_repeats_nothing_is_left_to_the_compilers(pattern: str) -> None:
    assert check_regexes([pattern])[0].startswith("cannot be compiled")


def test_compile_errors_come_back_for_each_pattern() -> None:
    reasons = check_regexes(["ok", r"(a)\1", "x*", "(unclosed"])
    assert sorted(reasons) == [1, 2, 3]
    assert reasons[1].startswith("needs a backtracking engine (Back-references")
    assert reasons[2].startswith("cannot be compiled (Pattern matches empty buffer")
    assert reasons[3].startswith("cannot be compiled (")


def test_a_compile_that_runs_past_the_time_limit_is_stopped_and_named() -> None:
    slow = "abcdef.{0,50}ghijkl.{0,50}mnopqr"  # within the repeat limit, ~0.4 s each
    reasons = check_regexes([slow] * 30, seconds=1.5)
    [(index, reason)] = reasons.items()
    assert reason == "took longer than 1.5 s to compile (with the regexes before it)"
    assert index < 29
