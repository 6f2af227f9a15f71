"""Tables of test cases kept as data: `tests/files/cases/NAME.yaml` maps a table's name to
its rows, each a list of values (strings written with escapes where a character is
invisible)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["cases"]

CASES = Path(__file__).parent / "files" / "cases"


def cases(name: str, table: str) -> list[tuple[Any, ...]]:
    """The rows of `table` in `tests/files/cases/NAME.yaml`, as tuples."""
    return [tuple(row) for row in _tables(name)[table]]


@cache
def _tables(name: str) -> dict[str, list[list[Any]]]:
    tables: dict[str, list[list[Any]]] = yaml.safe_load(
        (CASES / f"{name}.yaml").read_text(encoding="utf-8")
    )
    return tables
