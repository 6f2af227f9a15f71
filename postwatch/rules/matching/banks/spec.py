"""A pack's `banks:` entry checked (`BankSpec.parse`), and what a well-formed hash of each
algorithm is: lower-case hex of a fixed length (`HEX_LENGTHS`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postwatch.rules.language.errors import RulesError
from postwatch.rules.matching.matchers.pdq import MAX_DISTANCE

__all__ = [
    "EXACT_ALGORITHMS",
    "FORMATS",
    "HEX_LENGTHS",
    "BankSpec",
    "BankSpecError",
    "is_hex",
    "malformed",
]

EXACT_ALGORITHMS = ("sha256", "md5", "sha512")
HEX_LENGTHS = {"md5": 32, "sha256": 64, "sha512": 128, "pdq": 64}
"""Every algorithm a bank holds, with the hex digits of one of its hashes."""
FORMATS = ("plain", "pdq", "sha256", "md5", "sha512", "csv", "tat", "hma")
"""The `format`s of a bank's file (read in `formats`)."""
_SPEC_KEYS = frozenset(
    {*HEX_LENGTHS, "file", "format", "pdq_max_distance", "min_quality", "negative"}
)
_HEX = re.compile(r"[0-9a-f]+")


class BankSpecError(RulesError):
    """A `banks:` entry is invalid; `problems` pairs the key at fault (None: the entry
    itself) with what is wrong, so that the pack loader can give each its line."""

    def __init__(self, bank: str, problems: list[tuple[str | None, str]]) -> None:
        self.bank = bank
        self.problems = tuple(problems)
        super().__init__("; ".join(message for _, message in problems))


@dataclass(frozen=True, slots=True)
class BankSpec:
    """One entry of a pack's `banks:` mapping, checked but not loaded."""

    name: str
    sha256: tuple[str, ...] = ()
    md5: tuple[str, ...] = ()
    sha512: tuple[str, ...] = ()
    pdq: tuple[str, ...] = ()
    file: Path | None = None
    format: str | None = None
    pdq_max_distance: int = 31
    min_quality: int = 50
    negative: bool = False

    @classmethod
    def parse(cls, name: str, doc: Mapping[str, Any], base_dir: Path) -> BankSpec:
        """Check a `banks:` entry; `file` is taken relative to `base_dir` (the pack's
        folder). Raises `BankSpecError` listing every problem."""
        problems: list[tuple[str | None, str]] = [
            (key, f"unknown key {key!r} in bank {name!r}") for key in doc if key not in _SPEC_KEYS
        ]
        inline: dict[str, tuple[str, ...]] = {}
        for algo, length in HEX_LENGTHS.items():
            values = doc.get(algo, [])
            if not isinstance(values, list):
                problems.append((algo, f"bank {name!r} {algo} must be a list"))
                continue
            good = []
            for value in values:
                hex_value = value.strip().lower() if isinstance(value, str) else ""
                if is_hex(hex_value, length):
                    good.append(hex_value)
                else:
                    problems.append((algo, f"not a {algo} hex digest: {value!r}"))
            inline[algo] = tuple(dict.fromkeys(good))
        file = doc.get("file")
        if file is not None and (not isinstance(file, str) or not file.strip()):
            problems.append(("file", f"bank {name!r} file must be a path"))
        fmt = doc.get("format")
        if fmt is not None and fmt not in FORMATS:
            problems.append(
                ("format", f"bank {name!r} format must be one of {' | '.join(FORMATS)}")
            )
        if fmt is not None and file is None:
            problems.append(("format", f"bank {name!r} has a format but no file"))
        distance = doc.get("pdq_max_distance", 31)
        if not _is_int(distance, 0, MAX_DISTANCE):
            problems.append(
                (
                    "pdq_max_distance",
                    f"bank {name!r} pdq_max_distance must be an integer 0..{MAX_DISTANCE}",
                )
            )
        quality = doc.get("min_quality", 50)
        if not _is_int(quality, 0, 100):
            problems.append(("min_quality", f"bank {name!r} min_quality must be an integer 0..100"))
        negative = doc.get("negative", False)
        if not isinstance(negative, bool):
            problems.append(("negative", f"bank {name!r} negative must be true or false"))
        if problems:
            raise BankSpecError(name, problems)
        return cls(
            name=name,
            sha256=inline["sha256"],
            md5=inline["md5"],
            sha512=inline["sha512"],
            pdq=inline["pdq"],
            file=base_dir / file if isinstance(file, str) else None,
            format=fmt,
            pdq_max_distance=distance,
            min_quality=quality,
            negative=negative,
        )


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_hex(value: str, length: int) -> bool:
    """Whether `value` is `length` lower-case hex digits."""
    return len(value) == length and _HEX.fullmatch(value) is not None


def malformed(values: list[str], length: int) -> list[int]:
    """The positions of the values that are not `length` hex digits (lower case)."""
    if set(map(len, values)) == {length}:
        try:  # fast path: one check for a million hashes (fromhex skips spaces: count bytes)
            if len(bytes.fromhex("".join(values))) * 2 == length * len(values):
                return []
        except ValueError:
            pass
    return [i for i, v in enumerate(values) if not is_hex(v, length)]
