"""Errors of the rules library; each carries where in which file it was found."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PackError", "PackProblem", "RulesError"]


class RulesError(Exception):
    """Root of every error the rules library raises."""


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One problem in a rule pack, located by file, line and (where known) rule id."""

    file: str
    line: int
    message: str
    rule_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: "
        return where + (f"{self.rule_id}: " if self.rule_id else "") + self.message


class PackError(RulesError):
    """A rule pack failed to load; `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[PackProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))
