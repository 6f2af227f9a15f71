"""Rules that test themselves: each rule's `tests.match` / `tests.no_match` posts.

    >>> engine = Engine(load_packs(paths))                    # doctest: +SKIP
    >>> failed = [o for o in run_tests(engine) if not o.passed]  # doctest: +SKIP

`compile_tested(paths)` is what a worker and `postwatch match` use: the packs load, compile
and pass their own tests, or a `PackError` lists every problem and every failed test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from postwatch.rules.language.errors import PackError, PackProblem
from postwatch.rules.language.loader import load_packs
from postwatch.rules.language.model import Rule, RuleTest
from postwatch.rules.matching.cache import CompileCache
from postwatch.rules.matching.charmap import tables_from
from postwatch.rules.matching.engine import Engine

__all__ = ["TestOutcome", "compile_tested", "failures", "run_tests"]


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One test post of one rule: whether the rule matched it as the test expects."""

    __test__ = False  # not a pytest test class

    rule: Rule
    test: RuleTest
    number: int  # position among the rule's tests of the same kind
    matched: bool

    @property
    def passed(self) -> bool:
        return self.matched == self.test.expect_match

    @property
    def label(self) -> str:
        return f"{'match' if self.test.expect_match else 'no_match'}[{self.number}]"

    def problem(self) -> PackProblem:
        """The failure as a pack problem (file:line: rule-id: message)."""
        verb = "did not match" if self.test.expect_match else "matched"
        return PackProblem(
            self.rule.source_file, self.test.line, f"test {self.label} {verb}", self.rule.id
        )


def run_tests(engine: Engine) -> list[TestOutcome]:
    """Every test of every rule the engine runs (disabled rules are not run), in order."""
    outcomes: list[TestOutcome] = []
    for rule in engine.rules:
        counts = {True: 0, False: 0}
        for test in rule.tests:
            matched = any(m.rule is rule for m in engine.evaluate(test.post))
            outcomes.append(TestOutcome(rule, test, counts[test.expect_match], matched))
            counts[test.expect_match] += 1
    return outcomes


def failures(outcomes: Sequence[TestOutcome]) -> list[PackProblem]:
    return [o.problem() for o in outcomes if not o.passed]


def compile_tested(paths: Sequence[Path], cache: CompileCache | None = None) -> Engine:
    """Load and compile the packs (or take them from `cache`) and run their tests; raises
    `PackError` on any problem."""
    if cache is not None:
        tables_from(cache)  # before the packs load: their terms are folded
    engine = Engine(load_packs(list(paths), cache), cache=cache)
    problems = failures(run_tests(engine))
    if problems:
        raise PackError(problems)
    return engine
