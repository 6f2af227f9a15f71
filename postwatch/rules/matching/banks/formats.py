"""Hash-list files: reading a bank's `file:` (`read_hash_file`, `read_hash_list`) and
writing a bank back (`export_plain`, `export_csv`).

The `format`s, told by the file name when not given: `plain` (one hash a line, `TYPE HASH`
or a bare hash whose length tells its type; python-threatexchange's local-file format),
`pdq` / `sha256` / `md5` / `sha512` (bare hashes of that one type), `csv` (a header naming a
hash column: `signal_str`, `hash`, `hash_value`, `hash_digest` or `value`, with a type column
`signal_type`, `hash_type`, `algorithm` or `type`; or columns named `pdq`, `sha256`, ...; an
optional `quality` column; this reads python-threatexchange's dataset CSV), `tat` (Tech
Against Terrorism hash-list JSON: a page with `results` or a list of entries with
`hash_digest` and `algorithm`; deleted entries are left out) and `hma` (HMA bank content
JSON: objects with `signals`, as a list or one per line). Types other than these four
hashes (URLs, text, ...) are skipped and counted.

A file's problems name its lines (or JSON entries) and the kind of problem, never what the
file holds: a pack may name any file, and lint output goes where the file's content must
not (a pack naming /proc/self/environ would print the environment).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from postwatch.rules.language.errors import PackError, PackProblem
from postwatch.rules.matching.banks.spec import HEX_LENGTHS, is_hex, malformed

if TYPE_CHECKING:
    from postwatch.rules.matching.banks.index import HashBank

__all__ = [
    "MAX_BANK_FILE_BYTES",
    "export_csv",
    "export_plain",
    "read_hash_file",
    "read_hash_list",
]

MAX_BANK_FILE_BYTES = 64 * 1024 * 1024
"""The largest hash-list file read: 970,000 PDQ hashes as `pdq HASH` lines, read in about
10 s into 650 MiB. A larger list goes to the banks topic in parts (`rules bank --file`)."""

_BY_LENGTH = {32: "md5", 128: "sha512"}  # 64 hex digits could be SHA-256 or PDQ: say which
_VALUE_COLUMNS = ("signal_str", "hash", "hash_value", "hash_digest", "value")
_TYPE_COLUMNS = ("signal_type", "hash_type", "algorithm", "type")
_QUALITY_COLUMNS = ("quality", "pdq_quality")
_MAX_PROBLEMS = 20  # a broken million-line file is reported by its first problems

# A hash read from a file: (line, algo, hex, quality). A plain tuple, not a named one:
# files run to millions of lines, and a named tuple costs a Python call each.
# The line is 0 where the format has no lines to speak of (JSON documents).
_Hash = tuple[int, str, str, int | None]


class _Skip(NamedTuple):
    reason: str


class _Problem(NamedTuple):
    line: int
    message: str


_Entry = _Hash | _Skip | _Problem
_Reader = Callable[[str], Iterator[_Entry]]


def read_hash_file(path: Path) -> bytes:
    """The bytes of a hash-list file, read no further than one may be long. Raises
    `PackError` when the file cannot be read or is longer."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BANK_FILE_BYTES + 1)
    except OSError as exc:
        raise PackError([PackProblem(str(path), 0, f"cannot read hash list: {exc}")]) from exc
    if len(data) > MAX_BANK_FILE_BYTES:
        message = f"a hash list is at most {MAX_BANK_FILE_BYTES:,} bytes"
        raise PackError([PackProblem(str(path), 0, message)])
    return data


def read_hash_list(
    data: bytes, path: Path, fmt: str | None, skipped: Counter[str]
) -> list[tuple[str, str, int | None]]:
    """The (algo, hex, quality or None) entries of the hash-list file `path` whose bytes are
    `data` (`read_hash_file`), in the given format or the one its name tells; what is left
    out is counted in `skipped` by reason. Raises `PackError` (file:line: kind of problem)
    when it holds malformed entries."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1  # the object: past a BOM
        raise PackError([PackProblem(str(path), line, "not UTF-8 text")]) from None
    if "\r" in text:  # universal newlines, as reading the file as text gives
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    fmt = fmt or _format_of(path, text)
    listed = _listed(text, fmt)
    if listed is not None:
        return [(fmt, value, None) for value in listed]
    problems: list[PackProblem] = []
    hashes: list[_Hash] = []
    for entry in _READERS[fmt](text):
        if isinstance(entry, _Skip):
            skipped[entry.reason] += 1
        elif isinstance(entry, _Problem):
            problems.append(PackProblem(str(path), entry.line, entry.message))
        else:
            hashes.append(entry)
    for algo, length in HEX_LENGTHS.items():
        of_algo = [h for h in hashes if h[1] == algo]
        problems += (
            PackProblem(str(path), of_algo[i][0], _not_a_hash(algo))
            for i in malformed([h[2] for h in of_algo], length)
        )
    if problems:
        problems.sort(key=lambda p: p.line)
        if len(problems) > _MAX_PROBLEMS:
            problems[_MAX_PROBLEMS:] = [
                PackProblem(str(path), problems[_MAX_PROBLEMS].line, "too many problems; stopped")
            ]
        raise PackError(problems)
    return [(algo, value, quality) for _, algo, value, quality in hashes]


def _listed(text: str, fmt: str) -> list[str] | None:
    """A file of one algorithm's hashes, one a line and nothing else (no comment, no blank
    line), read in bulk: its hashes, lower-cased; None for any other file, which is read line
    by line (and its problems located)."""
    if fmt not in HEX_LENGTHS or "#" in text:
        return None
    values = text.lower().split()
    if len(values) != text.rstrip("\n").count("\n") + 1 or malformed(values, HEX_LENGTHS[fmt]):
        return None
    return values


def _not_a_hash(algo: str) -> str:
    return f"not a {algo} hash ({HEX_LENGTHS[algo]} hex digits)"


def _format_of(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".jsonl":
        return "hma"
    if suffix == ".json":
        return "hma" if '"signals"' in text[:4096] else "tat"
    return "plain"


@cache
def _algo_of(type_name: str) -> str | None:
    """Our algorithm for another tool's hash type name (pdq, video_md5, HASH_SHA256, ...)."""
    name = type_name.strip().lower().removeprefix("hash_")
    for prefix in ("photo_", "video_"):
        name = name.removeprefix(prefix)
    return name if name in HEX_LENGTHS else None


def _typed(line: int, type_name: str, value: str, quality: int | None = None) -> _Entry:
    algo = _algo_of(type_name)
    return (line, algo, value.strip().lower(), quality) if algo else _Skip("other_type")


def _plain_entries(text: str, only: str | None = None) -> Iterator[_Entry]:
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if only is not None:
            yield (number, only, tokens[0].lower(), None)
            continue
        algo = _algo_of(tokens[0]) if len(tokens) >= 2 else None
        first = tokens[0].lower()
        if algo is not None:
            yield (number, algo, tokens[1].lower(), None)
        elif len(first) in _BY_LENGTH and is_hex(first, len(first)):
            yield (number, _BY_LENGTH[len(first)], first, None)
        elif is_hex(first, 64):
            yield _Problem(
                number,
                "64 hex digits may be SHA-256 or PDQ: write 'pdq HASH' or 'sha256 HASH', "
                "or give the bank a format",
            )
        elif len(tokens) >= 2:
            yield _Skip("other_type")
        else:
            yield _Problem(number, "not a hex hash of a known length")


def _csv_entries(text: str) -> Iterator[_Entry]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        yield from _csv_rows(reader)
    except csv.Error as exc:  # a field over the csv module's limit, say; it quotes nothing
        yield _Problem(reader.line_num + 1, f"not CSV: {exc}")


def _csv_rows(reader: csv.DictReader[str]) -> Iterator[_Entry]:
    columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
    value_col = next((columns[c] for c in _VALUE_COLUMNS if c in columns), None)
    type_col = next((columns[c] for c in _TYPE_COLUMNS if c in columns), None)
    quality_col = next((columns[c] for c in _QUALITY_COLUMNS if c in columns), None)
    algo_cols = [(columns[a], a) for a in HEX_LENGTHS if a in columns]
    if (value_col is None or type_col is None) and not algo_cols:
        yield _Problem(
            1,
            f"no hash column: name one of {', '.join(_VALUE_COLUMNS)} with a type column "
            f"({', '.join(_TYPE_COLUMNS)}), or name columns after the hash type",
        )
        return
    for row in reader:
        quality = _quality(row.get(quality_col) if quality_col else None)
        if value_col is not None and type_col is not None:
            yield _typed(reader.line_num, row[type_col] or "", row[value_col] or "", quality)
            continue
        for column, algo in algo_cols:
            value = (row[column] or "").strip().lower()
            if value:
                yield (reader.line_num, algo, value, quality)


def _quality(value: str | None) -> int | None:
    """A PDQ quality (0..100) as written, else None."""
    digits = (value or "").strip()
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 3 else None


def _json(text: str, first_line: int) -> Any:
    """The JSON document `text` (from line `first_line` of the file), or its problem."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return _Problem(first_line + exc.lineno - 1, f"invalid JSON: {exc.msg}")
    except RecursionError:
        return _Problem(first_line, "JSON nested deeper than a hash list is")
    except ValueError:  # a number of more digits than int() reads (4300)
        return _Problem(first_line, "a JSON number too long to read")


def _tat_entries(text: str) -> Iterator[_Entry]:
    doc = _json(text, 1)
    if isinstance(doc, _Problem):
        yield doc
        return
    results = doc.get("results") if isinstance(doc, dict) else doc
    if not isinstance(results, list):
        yield _Problem(1, "a TAT hash list is a page with 'results' or a list of entries")
        return
    for i, entry in enumerate(results):
        if not isinstance(entry, dict) or not isinstance(entry.get("hash_digest"), str):
            yield _Problem(0, f"results[{i}]: an entry needs a 'hash_digest' string")
        elif entry.get("deleted") is True:
            yield _Skip("deleted")
        else:
            yield _tat_entry(i, entry)


def _tat_entry(i: int, entry: dict[str, Any]) -> _Entry:
    digest = entry["hash_digest"].strip().lower()
    algorithm = entry.get("algorithm")
    algo = _algo_of(algorithm) if isinstance(algorithm, str) else None
    if isinstance(algorithm, str) and algo is None:
        return _Skip("other_type")
    if algo is None:
        if len(digest) not in _BY_LENGTH:
            return _Problem(0, f"results[{i}]: no 'algorithm', and the length does not tell")
        algo = _BY_LENGTH[len(digest)]
    if not is_hex(digest, HEX_LENGTHS[algo]):
        return _Problem(0, f"results[{i}]: {_not_a_hash(algo)}")
    return (0, algo, digest, None)


def _hma_entries(text: str) -> Iterator[_Entry]:
    located: list[tuple[int, str]] = (
        [(1, text)]
        if text.lstrip().startswith("[")
        else [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    )
    for number, chunk in located:
        doc = _json(chunk, number)
        if isinstance(doc, _Problem):
            yield doc
            continue
        for item in doc if isinstance(doc, list) else [doc]:
            signals = item.get("signals") if isinstance(item, dict) else None
            if not isinstance(signals, dict):
                yield _Problem(number, "an HMA bank item needs a 'signals' mapping")
                continue
            for type_name, value in signals.items():
                yield (
                    _typed(number, str(type_name), value)
                    if isinstance(value, str)
                    else _Skip("other_type")
                )


_READERS: dict[str, _Reader] = {
    "plain": _plain_entries,
    **{algo: partial(_plain_entries, only=algo) for algo in HEX_LENGTHS},
    "csv": _csv_entries,
    "tat": _tat_entries,
    "hma": _hma_entries,
}


def export_plain(bank: HashBank, out: TextIO) -> int:
    """Write the bank as `TYPE HASH` lines (the `plain` format); returns how many."""
    count = 0
    for algo, value in bank.entries():
        out.write(f"{algo} {value}\n")
        count += 1
    return count


def export_csv(bank: HashBank, out: TextIO) -> int:
    """Write the bank as CSV with columns signal_type, signal_str; returns how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["signal_type", "signal_str"])
    count = 0
    for algo, value in bank.entries():
        writer.writerow([algo, value])
        count += 1
    return count
