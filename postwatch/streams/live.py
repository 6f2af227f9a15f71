"""Live rules and learned fingerprints from Kafka.

`rules publish` puts a `PublishedPack` on the compacted rules topic (and on the history
topic). Every worker runs a `LiveFeed`: a consumer in no group that reads the rules and learned
topics from the beginning and then follows them. A published pack is checked and compiled off
the event loop and the new engine replaces the old one between two records (`MatchStage`
holds a lock per record), so no post is lost or evaluated twice. Bank entries from the banks
topic are added to their pack's bank: at once when the bank is one this feed made, otherwise
(and after a tombstone) by compiling again, off the loop as well. Learned entries go into the
worker's `Tracker`; a tombstone forgets one.

Decisions (the decisions topic) are applied as they come, from its start too: a false
positive excludes its media from the bank that matched them (kept across engines), clears a
look-alike author for that watched account, or retires a learned fingerprint; a confirmed
successor is watched as the listed account it succeeds; a later verdict on the same alert
takes that back (`postwatch.rules.decisions.Reviews`).

A record of any of these topics that fails, for whatever reason, is that record's
failure alone: it is refused (logged with the reason, counted) and the feed goes on with
the next, keeping the last good rules. Anything else would stop every worker at the same
record, again on every restart (the topics are compacted and read from the start).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from postwatch.kafka.clients import ConsumerRecord, TopicPartition, new_consumer, new_producer
from postwatch.kafka.topics import BANKS, DECISIONS, LEARNED, RULES, RULES_HISTORY, scan
from postwatch.rules import Engine, Pack, PackError
from postwatch.rules.decisions import Change, Decision, Reviews
from postwatch.rules.detectors.learning import Learned
from postwatch.rules.detectors.mirror import Tracker
from postwatch.rules.language.published import BankEntry, PublishedPack, compile_packs
from postwatch.rules.matching.banks import HashBank
from postwatch.rules.matching.cache import compile_cache
from postwatch.settings import Settings
from postwatch.streams.metrics import Metrics

if TYPE_CHECKING:
    from postwatch.streams.agents.match import MatchStage

__all__ = ["LiveFeed", "publish_bank_entries", "publish_pack", "read_all"]

log = structlog.get_logger(__name__)


async def publish_pack(settings: Settings, published: PublishedPack) -> None:
    """Put a published pack on the rules and history topics, acknowledged by the broker."""
    producer = new_producer(settings)
    await producer.start()
    try:
        value = published.encode()
        key = published.pack.encode()
        for topic in (RULES, RULES_HISTORY):
            await producer.send_and_wait(settings.topic(topic), value, key=key)
    finally:
        await producer.stop()


async def publish_bank_entries(
    settings: Settings, entries: Sequence[BankEntry], *, remove: bool = False
) -> None:
    """Put bank entries (or, with `remove`, their tombstones) on the banks topic."""
    producer = new_producer(settings, linger_ms=20)
    await producer.start()
    try:
        acks = [
            await producer.send(
                settings.topic(BANKS),
                None if remove else entry.encode(),
                key=entry.key.encode(),
            )
            for entry in entries
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def read_all(settings: Settings, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record a one-partition topic holds now, oldest first."""
    return [record async for record in scan(settings, settings.topic(topic))]


class LiveFeed:
    """Follows the rules, banks, learned and decisions topics for one worker's `MatchStage`
    and `Tracker`."""

    def __init__(
        self,
        settings: Settings,
        stage: MatchStage,
        tracker: Tracker,
        file_packs: Sequence[Pack],
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.cache = compile_cache(settings.cache_dir)
        self.stage = stage
        self.tracker = tracker
        self.file_packs = tuple(file_packs)
        self.metrics = metrics
        self.published: dict[str, Pack] = {}
        self.entries: dict[str, BankEntry] = {}
        self._copied: set[tuple[str, str]] = set()  # banks of the engine that are our copies
        self.versions: dict[str, str] = {}  # pack id -> content hash applied
        self.reviews = Reviews()
        self.ready = asyncio.Event()
        """Set once what both topics held at start is applied: posts wait for it, so that a
        (re)started worker matches with the published packs and learned entries."""

    async def run(self) -> None:
        """Read the topics from the beginning, then follow them, until cancelled."""
        consumer = new_consumer(self.settings, auto_offset_reset="earliest")
        await consumer.start()
        rules = TopicPartition(self.settings.topic(RULES), 0)
        learned = TopicPartition(self.settings.topic(LEARNED), 0)
        banks = TopicPartition(self.settings.topic(BANKS), 0)
        decisions = TopicPartition(self.settings.topic(DECISIONS), 0)
        partitions = [rules, banks, learned, decisions]
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for record in batches.get(learned, []):
                    self._learned(record)
                stale = self._bank_entries(batches.get(banks, []))
                packs = batches.get(rules, [])
                if packs or stale:
                    await self._packs(packs, stale=stale)
                for record in batches.get(decisions, []):
                    self._decision(record)
                if not self.ready.is_set() and all(
                    [await consumer.position(tp) >= end for tp, end in ends.items()]
                ):
                    self.ready.set()
        finally:
            await consumer.stop()

    def _learned(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            if record.value is None:
                if record.key is not None:
                    self.tracker.forget(record.key.decode())
            else:
                self.tracker.learn(Learned.decode(record.value))
        except Exception as exc:  # whatever it is, it is this record's failure alone
            self._refuse_record(LEARNED, record, exc)
        self.metrics.learned.set(len(self.tracker.learned()))

    async def _packs(self, records: list[ConsumerRecord[bytes, bytes]], *, stale: bool) -> None:
        """Apply the latest record of each pack in the batch; one engine for all of them,
        compiled also when no pack changed but the bank entries are `stale`. A record that
        fails to load, and every pack of the batch when their engine fails to compile, is
        refused; the engine before stays."""
        latest: dict[bytes, ConsumerRecord[bytes, bytes]] = {}
        for record in records:
            latest[record.key or b""] = record
        started, misses = time.monotonic(), self._misses()
        candidates = dict(self.published)
        applied: dict[str, tuple[PublishedPack, int]] = {}  # pack id -> the record's
        for record in latest.values():
            try:
                published = PublishedPack.decode(record.value or b"")
            except Exception as exc:  # whatever it is, it is this record's failure alone
                self._refuse(None, record.offset, [_reason(exc)])
                continue
            if self.versions.get(published.pack) == published.content_hash:
                continue
            try:
                candidates[published.pack] = await asyncio.to_thread(published.load, self.cache)
            except Exception as exc:  # a PackError lists the pack's problems
                self._refuse(published, record.offset, _problems(exc))
                continue
            applied[published.pack] = (published, record.offset)
        if not applied and not stale:
            return
        entries = list(self.entries.values())
        try:
            engine: Engine = await asyncio.to_thread(
                compile_packs, self.file_packs, candidates, entries, self.cache
            )
        except Exception as exc:  # too many regexes together, say: these packs' failure
            for published, offset in applied.values():
                self._refuse(published, offset, _problems(exc))
            if not applied:
                log.exception("bank_entries.not_applied")
            return
        # decisions hold in the new engine too (its banks may be new copies)
        held = Change(
            excluded=tuple(self.reviews.exclusions), watched=tuple(self.reviews.successors)
        )
        self._apply(held, engine)
        await self.stage.replace_engine(engine)
        self._copied = {(e.pack, e.bank) for e in entries}
        self.published = candidates
        self.versions.update({pack_id: p.content_hash for pack_id, (p, _) in applied.items()})
        for pack in engine.packs:
            for account in pack.accounts:
                self.tracker.watch(account)
        # compiled for these packs by nothing but the cache: `rules publish` did it for us
        from_cache = self.cache is not None and self._misses() == misses
        for pack_id in applied:
            self.metrics.packs.labels("applied").inc()
            log.info(
                "pack.applied",
                pack=pack_id,
                version=candidates[pack_id].version,
                rules=len(engine.rules),
                seconds=round(time.monotonic() - started, 3),
                from_cache=from_cache,
            )

    def _misses(self) -> int:
        """What the compile cache did not hold so far: a compile of its own each."""
        return 0 if self.cache is None else self.cache.misses + self.cache.rejected

    def _bank_entries(self, records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """Take bank entries in; True when the engine must be compiled again for them."""
        stale = False
        banks = _banks(self.stage.engine)
        for record in records:
            try:
                key = (record.key or b"").decode()
                if record.value is None:
                    stale |= self.entries.pop(key, None) is not None
                    continue
                entry = BankEntry.decode(record.value)
                HashBank("check").add(entry.algo, entry.value)  # raises ValueError if malformed
            except Exception as exc:  # whatever it is, it is this record's failure alone
                self._refuse_record(BANKS, record, exc)
                continue
            self.entries[key] = entry
            if (entry.pack, entry.bank) in self._copied:
                banks[(entry.pack, entry.bank)].add(entry.algo, entry.value)
            else:
                stale = True
        return stale

    def _decision(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Apply one decision: what changed in the effects of false positives."""
        try:
            decision = Decision.decode(record.value or b"")
            change = self.reviews.apply(decision)
            self._apply(change)
        except Exception as exc:  # whatever it is, it is this record's failure alone
            self._refuse_record(DECISIONS, record, exc)
            return
        self.metrics.decisions.labels(decision.verdict).inc()
        if change:
            log.info("decision.applied", alert_id=decision.alert_id, verdict=decision.verdict)

    def _apply(self, change: Change, engine: Engine | None = None) -> None:
        """Make the change in the worker's engine (or in `engine`) and tracker."""
        engine = engine or self.stage.engine
        banks = _banks(engine)
        for exclusion in change.excluded:
            if (bank := banks.get((exclusion.pack, exclusion.bank))) is not None:
                bank.exclude(exclusion.algo, exclusion.value)
        for exclusion in change.included:
            if (bank := banks.get((exclusion.pack, exclusion.bank))) is not None:
                bank.include(exclusion.algo, exclusion.value)
        for author_id, watched_id in change.cleared:
            self.tracker.clear_lookalike(author_id, watched_id)
        for author_id, watched_id in change.restored:
            self.tracker.restore_lookalike(author_id, watched_id)
        for key in change.retired:
            self.tracker.retire(key)
        for key in change.unretired:
            self.tracker.unretire(key)
        for author_id, account_id in change.watched:
            engine.watch_as(author_id, account_id)
        for author_id, account_id in change.unwatched:
            engine.unwatch_as(author_id, account_id)

    def _refuse(self, published: PublishedPack | None, offset: int, problems: list[str]) -> None:
        self.metrics.packs.labels("refused").inc()
        log.error(
            "pack.refused",
            pack=published.pack if published else None,
            version=published.version if published else None,
            offset=offset,
            problems=problems[:20],
        )

    def _refuse_record(
        self, topic: str, record: ConsumerRecord[bytes, bytes], exc: Exception
    ) -> None:
        self.metrics.live_refused.labels(topic).inc()
        event = {BANKS: "bank_entry", DECISIONS: "decision"}.get(topic, "learned") + ".refused"
        log.warning(event, offset=record.offset, error=_reason(exc))


def _banks(engine: Engine) -> dict[tuple[str, str], HashBank]:
    """The banks of an engine's packs by (pack id, bank name)."""
    return {(pack.id, name): bank for pack in engine.packs for name, bank in pack.banks.items()}


def _reason(exc: Exception) -> str:
    """What went wrong, for the log: the kind of exception and its message, bounded."""
    return f"{type(exc).__name__}: {exc}"[:500]


def _problems(exc: Exception) -> list[str]:
    return [str(p) for p in exc.problems] if isinstance(exc, PackError) else [_reason(exc)]
