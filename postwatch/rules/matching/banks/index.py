"""Loaded banks: named sets of known media hashes, exact (SHA-256, MD5, SHA-512) and
perceptual (PDQ, matched within a per-bank Hamming distance), and their lookups.

    >>> from pathlib import Path
    >>> from postwatch.rules.language.model import Media
    >>> spec = BankSpec.parse("known", {"pdq": ["f" * 64], "pdq_max_distance": 20}, Path("."))
    >>> bank = load_bank(spec)
    >>> [(h.algo, h.distance) for h in bank.lookup(Media(pdq="f" * 63 + "0", pdq_quality=90))]
    [('pdq', 4)]

Rules that PDQ users share (HMA, GIFCT) apply: a PDQ hash whose quality is known and below
the bank's `min_quality` (default 50) neither enters the bank nor matches; the default
`pdq_max_distance` is 31. A *negative* bank holds known-benign hashes: media that matches
one matches no bank of its pack (`BankSet`). A bank's *exclusions* are media a reviewer found
it matched wrongly (a false positive): media with an excluded exact hash, or a PDQ hash
within EXCLUDED_PDQ_DISTANCE of an excluded one, matches nothing in that bank.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec
import numpy as np

from postwatch.rules.matching.banks.formats import read_hash_file, read_hash_list
from postwatch.rules.matching.banks.spec import (
    EXACT_ALGORITHMS,
    HEX_LENGTHS,
    BankSpec,
    is_hex,
    malformed,
)
from postwatch.rules.matching.cache import CompileCache, engine_id
from postwatch.rules.matching.matchers.pdq import PDQIndex, hashes_from_hex, hex_of

__all__ = ["EXCLUDED_PDQ_DISTANCE", "BankHit", "BankSet", "HashBank", "HashedMedia", "load_bank"]

EXCLUDED_PDQ_DISTANCE = 12
"""How near a media item's PDQ hash is to an excluded one to be excluded as well: copies of
one image re-encoded or resized stay well within it, while an image a bank hash matches
(within 31) is rarely that near a wrongly matched other image."""


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
        self._excluded: dict[str, set[str]] = {algo: set() for algo in HEX_LENGTHS}
        self._excluded_pdq = PDQIndex()

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
        by_algo: dict[str, list[str]] = {algo: [] for algo in HEX_LENGTHS}
        low = 0
        for algo, raw, quality in entries:  # one pass: a bank file holds millions
            values = by_algo.get(algo)
            if values is None:
                raise ValueError(f"not a hash algorithm: {algo!r}")
            if algo == "pdq" and quality is not None and quality < self.min_quality:
                low += 1
            else:
                values.append(raw.strip().lower())
        if low:
            self.skipped["low_quality"] += low
        for algo, values in by_algo.items():
            bad = malformed(values, HEX_LENGTHS[algo])
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

    def exclude(self, algo: str, value: str) -> None:
        """Media with this hash (or, for PDQ, near it) no longer matches the bank. Raises
        ValueError for an unknown algorithm or a malformed hash."""
        self._excluded[algo].add(_checked(algo, value))
        self._index_exclusions(algo)

    def include(self, algo: str, value: str) -> None:
        """Take an exclusion back (the reviewer's verdict changed)."""
        self._excluded.get(algo, set()).discard(value.strip().lower())
        self._index_exclusions(algo)

    def _saved(self) -> bytes:
        """The hashes the bank holds, for `load_bank`'s cache (exclusions apart)."""
        return msgspec.msgpack.encode(
            _SavedBank(
                {algo: sorted(digests) for algo, digests in self._exact.items()},
                self._pdq.hashes().tobytes(),
                dict(self.skipped),
            )
        )

    def _restore(self, payload: bytes) -> bool:
        """Take the hashes of a cache entry (`_saved`), into an empty bank; False, taking
        nothing, for a payload that is not one."""
        try:
            saved = msgspec.msgpack.decode(payload, type=_SavedBank)
        except msgspec.DecodeError:
            return False
        if set(saved.exact) != set(EXACT_ALGORITHMS) or len(saved.pdq) % 32:
            return False
        for algo, digests in saved.exact.items():
            self._exact[algo].update(digests)
        self._pdq.add(np.frombuffer(saved.pdq, dtype=np.uint64).reshape(-1, 4))
        self.skipped.update(saved.skipped)
        return True

    def _index_exclusions(self, algo: str) -> None:
        if algo == "pdq":  # PDQIndex has no removal: made again, it holds a few hashes
            self._excluded_pdq = PDQIndex()
            if self._excluded["pdq"]:
                self._excluded_pdq.add(hashes_from_hex(sorted(self._excluded["pdq"])))

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
        if any(self._excluded.values()):
            for k in self._excluded_media(
                [m if found else None for m, found in zip(media, hits, strict=True)]
            ):
                hits[k] = []
        return hits

    def _excluded_media(self, media: Sequence[HashedMedia | None]) -> list[int]:
        """The positions of the media (None: not asked) the bank's exclusions hold."""
        excluded = [
            k
            for k, item in enumerate(media)
            if item is not None
            and any(
                isinstance(given := getattr(item, algo, None), str)
                and given.lower() in self._excluded[algo]
                for algo in HEX_LENGTHS
                if algo != "pdq"
            )
        ]
        if len(self._excluded_pdq):
            asked = [
                (k, item.pdq.lower())
                for k, item in enumerate(media)
                if item is not None and item.pdq and is_hex(item.pdq.lower(), 64)
            ]
            if asked:
                queries = hashes_from_hex([pdq for _, pdq in asked])
                near = self._excluded_pdq.search(queries, EXCLUDED_PDQ_DISTANCE)
                excluded += [k for (k, _), found in zip(asked, near, strict=True) if found]
        return excluded

    def _exact_hits(self, media: HashedMedia) -> list[BankHit]:
        hits: list[BankHit] = []
        for algo, known in self._exact.items():
            given = getattr(media, algo, None) if known else None  # none of that type to match
            value = given.lower() if isinstance(given, str) else ""
            if is_hex(value, HEX_LENGTHS[algo]) and bytes.fromhex(value) in known:
                hits.append(BankHit(self.name, algo, value, str(given), 0))
        return hits

    def _pdq_query(self, media: HashedMedia) -> str | None:
        """The media's PDQ hash as given, if it is well formed and of a quality the bank
        takes and the bank holds PDQ hashes; None otherwise."""
        pdq, quality = media.pdq, media.pdq_quality
        if (
            len(self._pdq)
            and pdq is not None
            and is_hex(pdq.lower(), 64)
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


def _checked(algo: str, value: str) -> str:
    """The hash in lower-case hex; ValueError for an unknown algorithm or a malformed hash."""
    if algo not in HEX_LENGTHS:
        raise ValueError(f"not a hash algorithm: {algo!r}")
    hexed = value.strip().lower()
    if not is_hex(hexed, HEX_LENGTHS[algo]):
        raise ValueError(f"not a {algo} hash: {value!r}")
    return hexed


def load_bank(spec: BankSpec, cache: CompileCache | None = None) -> HashBank:
    """The bank a spec describes, its file read. Raises `PackError` with the file's problems
    (file:line: message) when the file cannot be read or holds malformed hashes.

    With `cache`, a bank with a file is kept there once read, keyed by the spec, the file's
    content and `engine_id`, and taken from there the next time: its hashes as they were
    added, so that only the PDQ index is built again (reading and checking a million hashes
    took most of a second, the index a third of one)."""
    bank = HashBank(
        spec.name,
        pdq_max_distance=spec.pdq_max_distance,
        min_quality=spec.min_quality,
        negative=spec.negative,
    )
    data = read_hash_file(spec.file) if spec.file is not None else None
    key = _cache_key(spec, data) if cache is not None and data is not None else None
    if cache is not None and key is not None and cache.load("bank", key, bank._restore):
        return bank
    entries: list[tuple[str, str, int | None]] = [
        (algo, v, None) for algo in HEX_LENGTHS for v in getattr(spec, algo)
    ]
    if spec.file is not None and data is not None:
        entries += read_hash_list(data, spec.file, spec.format, bank.skipped)
    bank.add_many(entries)  # in one batch: the PDQ index is built in one go
    if cache is not None and key is not None:
        cache.put("bank", key, bank._saved())
    return bank


class _SavedBank(msgspec.Struct, array_like=True):
    """A bank's hashes as `load_bank` left them: exact digests by algorithm, the PDQ hashes'
    words in index order, and what was skipped by reason."""

    exact: dict[str, list[bytes]]
    pdq: bytes
    skipped: dict[str, int]


def _cache_key(spec: BankSpec, data: bytes) -> bytes:
    """The cache key of a bank whose file holds `data`."""
    content = hashlib.sha256(data).digest()
    described = (spec.name, spec.sha256, spec.md5, spec.sha512, spec.pdq, spec.format)
    limits = (spec.pdq_max_distance, spec.min_quality, spec.negative)
    return msgspec.msgpack.encode((engine_id(), described, limits, content))
