"""Hash banks: named sets of known media hashes, exact (SHA-256, MD5, SHA-512) and
perceptual (PDQ, matched within a per-bank Hamming distance), loaded from a pack's `banks:`
entries and the hash-list files they name.

    >>> from pathlib import Path
    >>> from postwatch.rules.language.model import Media
    >>> spec = BankSpec.parse("known", {"pdq": ["f" * 64], "pdq_max_distance": 20}, Path("."))
    >>> bank = load_bank(spec)
    >>> [(h.algo, h.distance) for h in bank.lookup(Media(pdq="f" * 63 + "0", pdq_quality=90))]
    [('pdq', 4)]

Rules that PDQ users share (HMA, GIFCT) apply: a PDQ hash whose quality is known and below
the bank's `min_quality` (default 50) neither enters the bank nor matches; the default
`pdq_max_distance` is 31. A *negative* bank holds known-benign hashes: media that matches
one matches no bank of its pack (`BankSet`).

Files (`file:`, relative to the pack) come in these `format`s, told by the file name when
not given: `plain` (one hash a line, `TYPE HASH` or a bare hash whose length tells its type;
python-threatexchange's local-file format), `pdq` / `sha256` / `md5` / `sha512` (bare hashes
of that one type), `csv` (a header naming a hash column: `signal_str`, `hash`, `hash_value`,
`hash_digest` or `value`, with a type column `signal_type`, `hash_type`, `algorithm` or
`type`; or columns named `pdq`, `sha256`, ...; an optional `quality` column; this reads
python-threatexchange's dataset CSV), `tat` (Tech Against Terrorism hash-list JSON: a page
with `results` or a list of entries with `hash_digest` and `algorithm`; deleted entries are
left out) and `hma` (HMA bank content JSON: objects with `signals`, as a list or one per
line). Types other than these four hashes (URLs, text, ...) are skipped and counted in
`HashBank.skipped`. `export_plain` and `export_csv` write the plain and CSV forms back.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TextIO

from postwatch.rules.language.errors import PackError, PackProblem, RulesError
from postwatch.rules.matching.matchers.pdq import MAX_DISTANCE, PDQIndex, hashes_from_hex, hex_of

__all__ = [
    "EXACT_ALGORITHMS",
    "FORMATS",
    "BankHit",
    "BankSet",
    "BankSpec",
    "BankSpecError",
    "HashBank",
    "HashedMedia",
    "export_csv",
    "export_plain",
    "load_bank",
]

EXACT_ALGORITHMS = ("sha256", "md5", "sha512")
_HEX_LENGTHS = {"md5": 32, "sha256": 64, "sha512": 128, "pdq": 64}
_BY_LENGTH = {32: "md5", 128: "sha512"}  # 64 hex digits could be SHA-256 or PDQ: say which
FORMATS = ("plain", "pdq", "sha256", "md5", "sha512", "csv", "tat", "hma")
_SPEC_KEYS = frozenset(
    {*_HEX_LENGTHS, "file", "format", "pdq_max_distance", "min_quality", "negative"}
)
_HEX = re.compile(r"[0-9a-f]+")
_VALUE_COLUMNS = ("signal_str", "hash", "hash_value", "hash_digest", "value")
_TYPE_COLUMNS = ("signal_type", "hash_type", "algorithm", "type")
_QUALITY_COLUMNS = ("quality", "pdq_quality")
_MAX_PROBLEMS = 20  # a broken million-line file is reported by its first problems


class BankSpecError(RulesError):
    """A `banks:` entry is invalid; `problems` pairs the key at fault (None: the entry
    itself) with what is wrong, so that the pack loader can give each its line."""

    def __init__(self, bank: str, problems: list[tuple[str | None, str]]) -> None:
        self.bank = bank
        self.problems = tuple(problems)
        super().__init__("; ".join(message for _, message in problems))


class HashedMedia(Protocol):
    """What a bank looks at: a Post v1 media item or `postwatch.media.MediaHashes`. A
    `sha512` attribute, where the object has one, is matched too."""

    @property
    def sha256(self) -> str | None: ...
    @property
    def md5(self) -> str | None: ...
    @property
    def pdq(self) -> str | None: ...
    @property
    def pdq_quality(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class BankHit:
    """One hash of a bank that a media item matched: `value` is the bank's hash (lower-case
    hex), `matched` the media's as it was given, `distance` their Hamming distance (0 for
    exact hashes)."""

    bank: str
    algo: str
    value: str
    matched: str
    distance: int


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
        for algo, length in _HEX_LENGTHS.items():
            values = doc.get(algo, [])
            if not isinstance(values, list):
                problems.append((algo, f"bank {name!r} {algo} must be a list"))
                continue
            good = []
            for value in values:
                hex_value = value.strip().lower() if isinstance(value, str) else ""
                if _is_hex(hex_value, length):
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


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and _HEX.fullmatch(value) is not None


class HashBank:
    """A loaded bank: exact hashes in sets, PDQ hashes in a `PDQIndex`.

    Hashes can be added at any time (`add`); each is matched from the moment `add` returns.
    `skipped` counts what loading left out, by reason (`low_quality`, `other_type`,
    `deleted`).
    """

    def __init__(
        self,
        name: str,
        *,
        pdq_max_distance: int = 31,
        min_quality: int = 50,
        negative: bool = False,
    ) -> None:
        self.name = name
        self.pdq_max_distance = pdq_max_distance
        self.min_quality = min_quality
        self.negative = negative
        self.skipped: Counter[str] = Counter()
        self._exact: dict[str, set[bytes]] = {algo: set() for algo in EXACT_ALGORITHMS}
        self._pdq = PDQIndex()

    def __len__(self) -> int:
        return sum(len(values) for values in self._exact.values()) + len(self._pdq)

    def counts(self) -> dict[str, int]:
        """How many hashes of each algorithm the bank holds."""
        return {**{a: len(v) for a, v in self._exact.items()}, "pdq": len(self._pdq)}

    def add(self, algo: str, value: str, quality: int | None = None) -> bool:
        """Add one hash (hex, any case); False if it was there already or its quality is
        known and too low. Raises ValueError for an unknown algorithm or a malformed hash."""
        return self.add_many([(algo, value, quality)]) == 1

    def add_many(self, entries: Iterable[tuple[str, str, int | None]]) -> int:
        """Add (algo, hex, quality or None) entries; returns how many were new. Raises
        ValueError, adding nothing, if an algorithm is unknown or a hash malformed."""
        by_algo: dict[str, list[str]] = {algo: [] for algo in _HEX_LENGTHS}
        for algo, raw, quality in entries:
            if algo not in by_algo:
                raise ValueError(f"not a hash algorithm: {algo!r}")
            if algo == "pdq" and quality is not None and quality < self.min_quality:
                self.skipped["low_quality"] += 1
            else:
                by_algo[algo].append(raw.strip().lower())
        for algo, values in by_algo.items():
            bad = _malformed(values, _HEX_LENGTHS[algo])
            if bad:
                raise ValueError(f"not a {algo} hash: {values[bad[0]]!r}")
        added = 0
        for algo in EXACT_ALGORITHMS:
            known = self._exact[algo]
            before = len(known)
            known.update(bytes.fromhex(value) for value in by_algo[algo])
            added += len(known) - before
        return added + self._add_pdq(list(dict.fromkeys(by_algo["pdq"])))

    def _add_pdq(self, values: list[str]) -> int:
        """Add distinct PDQ hashes, leaving out those the index holds already."""
        if not values:
            return 0
        fresh = hashes_from_hex(values)
        if len(self._pdq):
            known = self._pdq.search(fresh, 0)
            fresh = fresh[[not hits for hits in known]]
        self._pdq.add(fresh)
        return len(fresh)

    def lookup(self, media: HashedMedia) -> list[BankHit]:
        """The bank's hashes this media matches: exact ones, then PDQ by distance."""
        return self.lookup_many([media])[0]

    def lookup_many(self, media: Sequence[HashedMedia]) -> list[list[BankHit]]:
        """`lookup` of each media item, in order. The PDQ hashes of them all are searched in
        one call: the index answers a batch several times faster than its queries one by one.
        """
        hits = [self._exact_hits(item) for item in media]
        searched = [
            (k, pdq) for k, item in enumerate(media) if (pdq := self._pdq_query(item)) is not None
        ]
        if searched:
            queries = hashes_from_hex([pdq.lower() for _, pdq in searched])
            found = self._pdq.search(queries, self.pdq_max_distance)
            for (k, pdq), near in zip(searched, found, strict=True):
                hits[k].extend(
                    BankHit(self.name, "pdq", hex_of(self._pdq.hash_words(i)), pdq, d)
                    for i, d in near
                )
        return hits

    def _exact_hits(self, media: HashedMedia) -> list[BankHit]:
        hits: list[BankHit] = []
        for algo, known in self._exact.items():
            given = getattr(media, algo, None) if known else None  # none of that type to match
            value = given.lower() if isinstance(given, str) else ""
            if _is_hex(value, _HEX_LENGTHS[algo]) and bytes.fromhex(value) in known:
                hits.append(BankHit(self.name, algo, value, str(given), 0))
        return hits

    def _pdq_query(self, media: HashedMedia) -> str | None:
        """The media's PDQ hash as given, if it is well formed and of a quality the bank
        takes and the bank holds PDQ hashes; None otherwise."""
        pdq, quality = media.pdq, media.pdq_quality
        if (
            len(self._pdq)
            and pdq is not None
            and _is_hex(pdq.lower(), 64)
            and (quality is None or quality >= self.min_quality)
        ):
            return pdq
        return None

    def entries(self) -> Iterator[tuple[str, str]]:
        """Every (algo, hex) the bank holds: exact hashes sorted, then PDQ in index order."""
        for algo in EXACT_ALGORITHMS:
            for digest in sorted(self._exact[algo]):
                yield algo, digest.hex()
        for i in range(len(self._pdq)):
            yield "pdq", hex_of(self._pdq.hash_words(i))


class BankSet:
    """The banks of one pack, looked up together so that its negative banks apply."""

    def __init__(self, banks: Iterable[HashBank]) -> None:
        self.banks = {bank.name: bank for bank in banks}
        self._positive = [b for b in self.banks.values() if not b.negative]
        self._negative = [b for b in self.banks.values() if b.negative]

    def lookup(self, media: HashedMedia) -> list[BankHit]:
        """Hits of the positive banks, or none at all when a negative bank matches."""
        return self.lookup_many([media])[0]

    def lookup_many(self, media: Sequence[HashedMedia]) -> list[list[BankHit]]:
        """`lookup` of each media item, in order; each bank is searched once for them all
        (the negative ones first, the positive ones for the media no negative bank matched).
        """
        kept = list(range(len(media)))
        for bank in self._negative:
            benign = bank.lookup_many([media[k] for k in kept])
            kept = [k for k, found in zip(kept, benign, strict=True) if not found]
        hits: list[list[BankHit]] = [[] for _ in media]
        for bank in self._positive:
            for k, found in zip(kept, bank.lookup_many([media[k] for k in kept]), strict=True):
                hits[k].extend(found)
        return hits


def load_bank(spec: BankSpec) -> HashBank:
    """The bank a spec describes, its file read. Raises `PackError` with the file's problems
    (file:line: message) when the file cannot be read or holds malformed hashes."""
    bank = HashBank(
        spec.name,
        pdq_max_distance=spec.pdq_max_distance,
        min_quality=spec.min_quality,
        negative=spec.negative,
    )
    entries: list[tuple[str, str, int | None]] = [
        (algo, v, None) for algo in _HEX_LENGTHS for v in getattr(spec, algo)
    ]
    if spec.file is not None:
        entries += _read_file(spec.file, spec.format, bank.skipped)
    bank.add_many(entries)  # in one batch: the PDQ index is built in one go
    return bank


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


def _malformed(values: list[str], length: int) -> list[int]:
    """The positions of the values that are not `length` hex digits (lower case)."""
    if all(len(v) == length for v in values):
        try:  # fast path: one check for a million hashes (fromhex skips spaces: count bytes)
            if len(bytes.fromhex("".join(values))) * 2 == length * len(values):
                return []
        except ValueError:
            pass
    return [i for i, v in enumerate(values) if not _is_hex(v, length)]


def _read_file(
    path: Path, fmt: str | None, skipped: Counter[str]
) -> list[tuple[str, str, int | None]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError([PackProblem(str(path), 0, f"cannot read hash list: {exc}")]) from exc
    problems: list[PackProblem] = []
    hashes: list[_Hash] = []
    for entry in _READERS[fmt or _format_of(path, text)](text):
        if isinstance(entry, _Skip):
            skipped[entry.reason] += 1
        elif isinstance(entry, _Problem):
            problems.append(PackProblem(str(path), entry.line, entry.message))
        else:
            hashes.append(entry)
    for algo, length in _HEX_LENGTHS.items():
        of_algo = [h for h in hashes if h[1] == algo]
        problems += (
            PackProblem(str(path), of_algo[i][0], f"not a {algo} hash: {of_algo[i][2]!r}")
            for i in _malformed([h[2] for h in of_algo], length)
        )
    if problems:
        problems.sort(key=lambda p: p.line)
        if len(problems) > _MAX_PROBLEMS:
            problems[_MAX_PROBLEMS:] = [
                PackProblem(str(path), problems[_MAX_PROBLEMS].line, "too many problems; stopped")
            ]
        raise PackError(problems)
    return [(algo, value, quality) for _, algo, value, quality in hashes]


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
    return name if name in _HEX_LENGTHS else None


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
        elif _HEX.fullmatch(first) and len(first) in _BY_LENGTH:
            yield (number, _BY_LENGTH[len(first)], first, None)
        elif _HEX.fullmatch(first) and len(first) == 64:
            yield _Problem(
                number,
                "64 hex digits may be SHA-256 or PDQ: write 'pdq HASH' or 'sha256 HASH', "
                "or give the bank a format",
            )
        elif len(tokens) >= 2:
            yield _Skip("other_type")
        else:
            yield _Problem(number, f"not a hash: {tokens[0]!r}")


def _csv_entries(text: str) -> Iterator[_Entry]:
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
    value_col = next((columns[c] for c in _VALUE_COLUMNS if c in columns), None)
    type_col = next((columns[c] for c in _TYPE_COLUMNS if c in columns), None)
    quality_col = next((columns[c] for c in _QUALITY_COLUMNS if c in columns), None)
    algo_cols = [(columns[a], a) for a in _HEX_LENGTHS if a in columns]
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
    return int(value) if value and value.strip().isdigit() else None


def _tat_entries(text: str) -> Iterator[_Entry]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        yield _Problem(exc.lineno, f"invalid JSON: {exc.msg}")
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
            digest = entry["hash_digest"].strip().lower()
            algorithm = entry.get("algorithm")
            algo = _algo_of(algorithm) if isinstance(algorithm, str) else None
            if isinstance(algorithm, str) and algo is None:
                yield _Skip("other_type")
            elif algo is None and len(digest) not in _BY_LENGTH:
                yield _Problem(0, f"results[{i}]: no 'algorithm', and the length does not tell")
            elif not _is_hex(digest, _HEX_LENGTHS[algo or _BY_LENGTH[len(digest)]]):
                yield _Problem(0, f"results[{i}]: not a {algorithm} hash: {digest!r}")
            else:
                yield (0, algo or _BY_LENGTH[len(digest)], digest, None)


def _hma_entries(text: str) -> Iterator[_Entry]:
    located: list[tuple[int, str]] = (
        [(1, text)]
        if text.lstrip().startswith("[")
        else [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    )
    for number, chunk in located:
        try:
            doc = json.loads(chunk)
        except json.JSONDecodeError as exc:
            yield _Problem(number + exc.lineno - 1, f"invalid JSON: {exc.msg}")
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
    **{algo: partial(_plain_entries, only=algo) for algo in _HEX_LENGTHS},
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
