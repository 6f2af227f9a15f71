"""Published packs: a pack's text with what identifies the version, as `postwatch rules publish`
puts it on the rules topic and workers compile it.

A published pack replaces the pack of the same id that a worker loaded from a file. Compiling
checks it like a file (`load`, then its own tests): a pack that fails is refused with its
problems, and the caller keeps what it had. A published pack names no files (a worker would
read them from its own disk): `publishable_text` puts the hashes of a pack's bank files in
the text that is published.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
import yaml

from postwatch.rules.language.errors import PackError, PackProblem
from postwatch.rules.language.loader import MAX_PACK_CHARS, pack_text, parse_pack, plain_document
from postwatch.rules.language.model import Pack, Rule
from postwatch.rules.language.selftest import failures, run_tests
from postwatch.rules.matching.banks import EXACT_ALGORITHMS, BankSpec, HashBank, load_bank
from postwatch.rules.matching.cache import CompileCache
from postwatch.rules.matching.engine import Engine

__all__ = [
    "BankEntry",
    "NotStandalone",
    "PublishedPack",
    "bank_entries",
    "changes",
    "compile_for_workers",
    "compile_packs",
    "content_hash",
    "publishable_text",
    "published_versions",
    "to_publish",
    "with_entries",
]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PublishedPack(msgspec.Struct, frozen=True):
    """One published version of a pack; `changes` says what differs from the one before.
    `encode` and `decode` are its record on the rules and history topics."""

    pack: str
    version: int
    text: str
    content_hash: str
    published_at: Annotated[datetime, msgspec.Meta(tz=True)]
    published_by: str
    changes: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> PublishedPack:
        """Raises msgspec.DecodeError (ValidationError) for bytes that are no record."""
        return msgspec.json.decode(data, type=cls)

    def load(self, cache: CompileCache | None = None) -> Pack:
        """The pack, checked and self-tested (compiled, or taken from `cache`, for its tests);
        raises `PackError` with its problems, and when
        the text is another pack or version than the record says (it would stand beside the
        pack of its own id, or be taken for another version)."""
        file = f"{self.pack}@v{self.version}"
        pack = parse_pack(self.text, file)
        if (pack.id, pack.version) != (self.pack, self.version):
            message = (
                f"the text is pack {pack.id} v{pack.version}, "
                f"the record says {self.pack} v{self.version}"
            )
            raise PackError([PackProblem(file, 1, message)])
        problems = failures(run_tests(Engine([pack], cache=cache)))
        if problems:
            raise PackError(problems)
        return pack


def publishable_text(path: Path) -> str:
    """The text `rules publish` puts on the rules topic for a pack file: the file's own text
    when no bank of the pack names a file, otherwise the pack with each such bank's `file`
    (and `format`) replaced by the hashes the bank holds. Raises `PackError` when the pack
    does not load, or when with those hashes it is larger than a pack may be (they go on
    the banks topic then: `postwatch rules bank`)."""
    text = pack_text(path)
    pack = parse_pack(text, str(path), folder=path.parent)
    doc = plain_document(text, str(path))
    banks: dict[str, dict[str, Any]] = doc.get("banks") or {}
    named = [name for name, entry in banks.items() if "file" in entry]
    if not named:
        return text
    for name in named:
        hashes: dict[str, list[str]] = {}
        for algo, value in pack.banks[name].entries():
            hashes.setdefault(algo, []).append(value)
        leave_out = {"file", "format", "pdq", *EXACT_ALGORITHMS}
        banks[name] = hashes | {k: v for k, v in banks[name].items() if k not in leave_out}
    inlined = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    if len(inlined) > MAX_PACK_CHARS:
        message = (
            f"with the hashes of its bank files the pack is larger than {MAX_PACK_CHARS:,}"
            f" characters: send the hashes with `postwatch rules bank {pack.id} BANK --file"
            " FILE` and leave the file out of the pack"
        )
        raise PackError([PackProblem(str(path), 0, message)])
    return inlined


def _rule_view(rule: Rule) -> tuple[object, ...]:
    return (rule.title, rule.severity, rule.status, rule.match, rule.exceptions, rule.scope)


def changes(old: Pack | None, new: Pack) -> tuple[str, ...]:
    """What a new version of a pack changes: rules added, removed, changed; banks resized."""
    if old is None:
        return (f"new pack with {len(new.rules)} rules",)
    before = {rule.id: rule for rule in old.rules}
    after = {rule.id: rule for rule in new.rules}
    found = [f"added {rule_id}" for rule_id in after if rule_id not in before]
    found += [f"removed {rule_id}" for rule_id in before if rule_id not in after]
    found += [
        f"changed {rule_id}"
        for rule_id, rule in after.items()
        if rule_id in before and _rule_view(before[rule_id]) != _rule_view(rule)
    ]
    for name, bank in new.banks.items():
        size = len(old.banks[name]) if name in old.banks else 0
        if len(bank) != size:
            found.append(f"bank {name}: {size} -> {len(bank)} hashes")
    return tuple(found) or ("no rule changes",)


def compile_packs(
    packs: Sequence[Pack],
    published: Mapping[str, Pack],
    entries: Iterable[BankEntry] = (),
    cache: CompileCache | None = None,
) -> Engine:
    """An engine of the file packs with the published ones in place of those of the same id
    (and the other published ones after them), published bank entries added."""
    chosen = [published.get(pack.id, pack) for pack in packs]
    chosen += [pack for pack_id, pack in published.items() if all(p.id != pack_id for p in packs)]
    return Engine(with_entries(chosen, entries), cache=cache)


def compile_for_workers(
    file_packs: Sequence[Pack], versions: Iterable[PublishedPack], cache: CompileCache
) -> Engine:
    """The engine a worker with these file packs builds once it has applied the latest of
    each pack's published `versions` (in the order they were published; a version that does
    not load is left out, as a worker refuses it), compiled into `cache`: a worker that shares
    the cache folder then takes it from there instead of compiling it."""
    latest: dict[str, PublishedPack] = {}
    for version in versions:
        latest[version.pack] = version
    applied: dict[str, Pack] = {}
    for pack_id, version in latest.items():
        with contextlib.suppress(PackError):
            applied[pack_id] = version.load(cache)
    return compile_packs(file_packs, applied, cache=cache)


class BankEntry(msgspec.Struct, frozen=True):
    """One hash of a pack's bank, published on its own (the banks topic); `key` is
    `pack/bank/hash`, and a tombstone under it removes the hash again. `encode` and
    `decode` are its record there."""

    pack: str
    bank: str
    algo: str
    value: str = msgspec.field(name="hash")

    @property
    def key(self) -> str:
        return f"{self.pack}/{self.bank}/{self.value.lower()}"

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> BankEntry:
        """Raises msgspec.DecodeError (ValidationError) for bytes that are no entry."""
        return msgspec.json.decode(data, type=cls)


def with_entries(packs: Sequence[Pack], entries: Iterable[BankEntry]) -> list[Pack]:
    """The packs with published bank entries added; each bank that gets some is a copy, so
    the given packs are never changed. Entries of banks no pack has are left out; a
    malformed one raises ValueError."""
    by_bank: dict[tuple[str, str], list[tuple[str, str, int | None]]] = {}
    for entry in entries:
        by_bank.setdefault((entry.pack, entry.bank), []).append((entry.algo, entry.value, None))
    out: list[Pack] = []
    for pack in packs:
        banks = dict(pack.banks)
        for name, bank in pack.banks.items():
            added = by_bank.get((pack.id, name))
            if added:
                copy = HashBank(
                    name,
                    pdq_max_distance=bank.pdq_max_distance,
                    min_quality=bank.min_quality,
                    negative=bank.negative,
                )
                copy.add_many([(algo, value, None) for algo, value in bank.entries()] + added)
                banks[name] = copy
        out.append(replace(pack, banks=banks) if banks != pack.banks else pack)
    return out


class NotStandalone(PackError):
    """A pack whose published version would not load as every worker loads it (one of its
    banks names a file, say); `source_file` is the pack's file, `problems` what fails."""

    def __init__(self, source_file: str, problems: Sequence[PackProblem]) -> None:
        super().__init__(list(problems))
        self.source_file = source_file


def published_versions(values: Iterable[bytes | None]) -> list[PublishedPack]:
    """The published packs among the values of the rules or history topic, in their order.
    A tombstone, or a value that is no published pack, is passed over: every worker refuses
    it and keeps the version before."""
    versions: list[PublishedPack] = []
    for value in values:
        if value is None:
            continue
        try:
            versions.append(PublishedPack.decode(value))
        except msgspec.DecodeError:
            continue
    return versions


def to_publish(
    packs: Sequence[tuple[Pack, str]],
    published: Iterable[PublishedPack],
    *,
    now: datetime,
    by: str,
    cache: CompileCache | None = None,
) -> list[PublishedPack | None]:
    """What publishing `packs` (each with the text it was loaded from) puts on the rules
    topic, given the versions `published` there, oldest first: for each pack, in order, its
    record, whose `changes` say what differs from the last version, or None when the last
    version has the same text. Raises `NotStandalone` for the first pack whose record would
    not load as every worker loads it: then none is to be published. Each record is compiled
    as a worker compiles it, into `cache` where there is one (a worker that shares the
    folder then starts from it)."""
    latest = {version.pack: version for version in published}
    records: list[PublishedPack | None] = []
    for pack, text in packs:
        before = latest.get(pack.id)
        if before is not None and before.content_hash == content_hash(text):
            records.append(None)
            continue
        old = None
        if before is not None:
            with contextlib.suppress(PackError):  # a refused version changes nothing
                old = before.load(cache)
        record = PublishedPack(
            pack.id, pack.version, text, content_hash(text), now, by, changes(old, pack)
        )
        try:
            record.load(cache)  # what every worker will do with it
        except PackError as exc:
            raise NotStandalone(pack.source_file, list(exc.problems)) from exc
        records.append(record)
    return records


def bank_entries(
    pack: str, bank: str, hashes: Iterable[tuple[str, str]], file: Path | None = None
) -> list[BankEntry]:
    """The entries that put `hashes` ((algorithm, hex) pairs) and those of a hash-list
    `file` (the formats of a bank's file) in a bank of a pack: each hash once, checked and
    in the bank's spelling. Raises ValueError for a malformed hash or an unknown algorithm,
    `PackError` for a file that cannot be read or holds malformed hashes."""
    checked = HashBank(bank, min_quality=0)
    checked.add_many([(algo, value, None) for algo, value in hashes])
    if file is not None:
        loaded = load_bank(BankSpec(bank, file=file.resolve(), min_quality=0))
        checked.add_many([(algo, value, None) for algo, value in loaded.entries()])
    return [BankEntry(pack, bank, algo, value) for algo, value in checked.entries()]
