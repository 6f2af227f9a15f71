"""A worker: consumes the posts topic in batches, in its consumer group, and produces alerts.

The loop takes up to `BATCH_MAX` records at once from the consumer's prefetched fetches,
evaluates them (`MatchStage.process`), and commits their offsets once everything they
produced is acknowledged. A rebalance waits for the batch in progress to be committed
before partitions are revoked (`_Rebalance`), and a worker reads the suppression windows and
the author states (look-alike pairs alerted, escalation windows) of the partitions it is
assigned before it takes their posts; what a batch changed of its authors is written to
their changelog, and acknowledged, before the batch is committed. The consumer and the producer
reconnect by themselves while the broker is away; a send still not acknowledged when the
producer gives up (`request_timeout_ms`) stops the worker, and the one that is started
again processes the batch again (same alert ids).
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
from collections.abc import Awaitable, Iterable
from typing import Any

import structlog
import uvloop

from postwatch.kafka.clients import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    CommitFailedError,
    ConsumerRebalanceListener,
    ConsumerRecord,
    IllegalStateError,
    KafkaError,
    TopicPartition,
    new_consumer,
    new_producer,
)
from postwatch.kafka.topics import (
    ALERTS,
    ALERTS_OCSF,
    DEADLETTER,
    LEARNED,
    POSTS,
    RULES_FLOOD,
    authors_changelog,
    ensure_topics,
    suppression_changelog,
)
from postwatch.rules import Engine
from postwatch.rules.detectors.mirror import AuthorState, MirrorConfig, Tracker
from postwatch.rules.flood import FloodGuard
from postwatch.rules.matching.matchers.pdq import warm_up
from postwatch.settings import Settings
from postwatch.streams.agents.match import Acks, MatchStage, Send, settle_heap
from postwatch.streams.flood import FloodFollower
from postwatch.streams.live import LiveFeed
from postwatch.streams.metrics import Metrics
from postwatch.streams.windows import Changelog, ChangelogWindows

__all__ = ["BATCH_MAX", "Worker", "run_worker"]

log = structlog.get_logger(__name__)

BATCH_MAX = 2000
"""Records evaluated between two commits, at most (fewer when fewer have arrived)."""
_POLL_MS = 500
_SWEEP_MIN_S = 0.5
_SWEEP_MAX_S = 10.0


def run_worker(settings: Settings, engine: Engine) -> None:
    """Run one worker until SIGINT or SIGTERM, then leave the group and return."""
    metrics = Metrics()
    if settings.metrics_port:
        metrics.serve(settings.metrics_host, settings.metrics_port)
    uvloop.run(Worker(settings, engine, metrics).run())


class Worker:
    """One member of the worker group (`settings.group`)."""

    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.engine = engine
        self.posts = settings.topic(POSTS)
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()  # a batch and its commit, a sweep, a rebalance: one at a time

    async def run(self) -> None:
        """Consume until `stop()` (or SIGINT/SIGTERM); then commit, leave, return."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        await ensure_topics(self.settings, live=True)
        warm_up()
        settle_heap()
        # no linger: a batch's sends are all queued before its acknowledgements are waited
        # for, so they go out together anyway; a linger of 5 ms was added to every batch
        # (about 17 ms of matching for 2,000 posts), a seventh of one worker's throughput
        producer = new_producer(self.settings, enable_idempotence=True, max_batch_size=262_144)
        await producer.start()
        try:
            tracker = Tracker(
                MirrorConfig.from_settings(self.settings),
                [account for pack in self.engine.packs for account in pack.accounts],
            )
            stage, windows = self._stage(producer, tracker)
            authors = Changelog(
                self.settings, authors_changelog(self.settings), producer, stage.acks, AuthorState
            )
            live = LiveFeed(self.settings, stage, tracker, self.engine.packs, self.metrics)
            log.info(
                "worker.starting",
                group=self.settings.group,
                rules=len(self.engine.rules),
                posts_topic=self.posts,
            )
            tasks = [asyncio.create_task(live.run(), name="live")]
            flood = FloodFollower(self.settings, stage.flood) if stage.flood else None
            if flood is not None:
                tasks.append(asyncio.create_task(flood.run(), name="flood"))
            try:
                await self._wait_for(live.ready.wait(), tasks, interruptible=True)
                if flood is not None:  # the rules shadowed before are shadowed from the start
                    await self._wait_for(flood.ready.wait(), tasks, interruptible=True)
                consumer = new_consumer(
                    self.settings, group_id=self.settings.group, auto_offset_reset="earliest"
                )
                consumer.subscribe(
                    [self.posts], listener=_Rebalance(self, windows, authors, tracker)
                )
                await consumer.start()
                try:
                    if windows is not None:
                        tasks.append(
                            asyncio.create_task(self._sweep(stage, consumer), name="sweep")
                        )
                    await self._wait_for(
                        self._consume(stage, consumer, authors), tasks, interruptible=False
                    )
                finally:
                    await consumer.stop()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await producer.stop()
        log.info("worker.stopped", group=self.settings.group)

    def stop(self) -> None:
        """Finish the batch in progress, commit it, and return from `run`."""
        self._stopping.set()

    def _stage(
        self, producer: AIOKafkaProducer, tracker: Tracker
    ) -> tuple[MatchStage, ChangelogWindows | None]:
        def sender(topic: str) -> Send:
            name = self.settings.topic(topic)

            async def send(key: bytes | None, value: bytes) -> Awaitable[Any]:
                ack: Awaitable[Any] = await producer.send(name, value, key=key)
                return ack

            return send

        acks = Acks()
        windows = (
            ChangelogWindows(self.settings, suppression_changelog(self.settings), producer, acks)
            if self.settings.suppress_window_s > 0
            else None
        )
        stage = MatchStage(
            self.engine,
            sender(ALERTS),
            sender(DEADLETTER),
            metrics=self.metrics,
            send_ocsf=sender(ALERTS_OCSF) if self.settings.ocsf_enabled else None,
            windows=windows,
            window_s=self.settings.suppress_window_s,
            tracker=tracker,
            send_learned=sender(LEARNED),
            acks=acks,
            flood=_flood_guard(self.settings),
            send_flood=sender(RULES_FLOOD),
        )
        return stage, windows

    async def _wait_for(
        self, main: Awaitable[Any], tasks: list[asyncio.Task[Any]], *, interruptible: bool
    ) -> None:
        """Await `main` (and stop waiting when the worker is asked to stop, if
        `interruptible`), unless a background task fails first: its error is raised."""
        waited = asyncio.ensure_future(main)
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait(
                [waited, *tasks, *([stopping] if interruptible else [])],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()
        for task in tasks:
            if task.done():
                waited.cancel()
                task.result()
                raise RuntimeError(f"{task.get_name()} ended")  # they run until cancelled
        if not waited.done():
            waited.cancel()
            await asyncio.gather(waited, return_exceptions=True)
            return
        waited.result()

    async def _consume(
        self, stage: MatchStage, consumer: AIOKafkaConsumer, authors: Changelog[AuthorState]
    ) -> None:
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=_POLL_MS, max_records=BATCH_MAX)
            if not batches:
                continue
            async with self._lock:
                await self._batch(stage, consumer, batches, authors)

    async def _batch(
        self,
        stage: MatchStage,
        consumer: AIOKafkaConsumer,
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        authors: Changelog[AuthorState],
    ) -> None:
        owned = consumer.assignment()  # a rebalance may have come since they were fetched
        batches = {tp: part for tp, part in batches.items() if tp in owned}
        records = [record for part in batches.values() for record in part]
        try:
            await stage.process(records)
            if stage.tracker is not None:
                await _write_authors(stage.tracker, authors, records)
                await stage.acks.wait()
        except KafkaError:
            # the broker refused or never acknowledged a send, after the producer's own
            # retries: stop, and let the restarted worker take the batch again from the last
            # commit. Processing it again here would not do: what the batch taught the
            # mirror tracker (look-alike pairs alerted, learned entries) is not taught twice.
            log.exception("batch.not_acknowledged")
            raise
        offsets = {tp: part[-1].offset + 1 for tp, part in batches.items()}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # the partitions have moved to another worker, which takes them from the last
            # commit: the batch's alerts may be sent again there, with the same ids
            log.warning("batch.commit_failed", error=repr(exc))

    async def _sweep(self, stage: MatchStage, consumer: AIOKafkaConsumer) -> None:
        interval = min(_SWEEP_MAX_S, max(_SWEEP_MIN_S, self.settings.suppress_window_s / 5))
        while True:
            await asyncio.sleep(interval)
            async with self._lock:
                owned = _partitions(consumer.assignment(), self.posts)
                try:
                    await stage.sweep(owned)
                except KafkaError as exc:  # the next sweep sends the summaries again
                    log.warning("sweep.deferred", error=repr(exc))


async def _write_authors(
    tracker: Tracker, authors: Changelog[AuthorState], records: list[ConsumerRecord[bytes, bytes]]
) -> None:
    """Write what the batch changed of its authors to their changelog, each to the partition
    of its posts (posts are keyed by author id); an author of unkeyed posts is kept in memory
    only."""
    partitions = {record.key: record.partition for record in records}
    for state in tracker.take_changed():
        partition = partitions.get(state.author_id.encode())
        if partition is None:
            log.debug("author_state.unkeyed", author=state.author_id)
            continue
        await authors.write(_author_key(state.author_id), None if state.empty else state, partition)


def _author_key(author_id: str) -> str:
    """An author's changelog key: a hash, so that the keys hold no author id."""
    return hashlib.sha256(author_id.encode()).hexdigest()[:32]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is unannotated
    """Partitions move only between batches; suppression windows and author states move
    with them."""

    def __init__(
        self,
        worker: Worker,
        windows: ChangelogWindows | None,
        authors: Changelog[AuthorState],
        tracker: Tracker,
    ) -> None:
        self.worker = worker
        self.windows = windows
        self.authors = authors
        self.tracker = tracker

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self.worker._lock:  # the batch in progress is committed first
            partitions = _partitions(revoked, self.worker.posts)
            if self.windows is not None:
                self.windows.drop(partitions)
            for state in self.authors.drop(partitions):
                self.tracker.forget_author(state.author_id)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        partitions = _partitions(assigned, self.worker.posts)
        log.info("partitions.assigned", partitions=sorted(partitions))
        async with self.worker._lock:
            if self.windows is not None:
                await self.windows.restore(partitions)
            for state in await self.authors.restore(partitions):
                self.tracker.put_author(state)


def _flood_guard(settings: Settings) -> FloodGuard | None:
    """The flood guard of the settings; None when no rule has a limit."""
    limits = dict(settings.flood_limits)
    if settings.flood_alerts_per_minute == 0 and not any(limits.values()):
        return None
    return FloodGuard(settings.flood_alerts_per_minute, limits)


def _partitions(tps: Iterable[TopicPartition], topic: str) -> set[int]:
    return {tp.partition for tp in tps if tp.topic == topic}
