"""`postwatch enrich`: the media enrichment stage between the connectors and the workers.

Connectors with `enrich` on produce Post v1 records to `<prefix>.posts.raw`; enrichers, one
consumer group (`<prefix>-enrich`), take them in batches, fetch every post's images with the
media fetcher (its guards: public addresses only, byte, time and pixel caps, decoding in
child processes), fill their SHA-256, MD5, PDQ, local features and the text read in them,
and produce each post to `<prefix>.posts`, keyed as it came. A batch's offsets are committed
only once the broker has acknowledged every post of it: a crash repeats posts, never loses
one. An item whose fetch failed carries the reason (`error`) and the post goes on without
its hashes; a record that is no Post v1 goes to the dead-letter topic with its reason. More
processes in the group share the partitions of the raw topic.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
import structlog
import uvloop
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from postwatch.kafka.clients import (
    CommitFailedError,
    MessageSizeTooLargeError,
    new_consumer,
    new_producer,
)
from postwatch.kafka.deadletter import dead_letter
from postwatch.kafka.topics import DEADLETTER, POSTS, POSTS_RAW, ensure_topics
from postwatch.media.fetch import FetchOptions, MediaFetcher
from postwatch.rules import InvalidPost, parse_post
from postwatch.settings import Settings

if TYPE_CHECKING:
    from postwatch.kafka.clients import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

__all__ = ["BATCH_MAX", "EnrichMetrics", "Enricher", "enrich_group", "run_enrich"]

log = structlog.get_logger(__name__)

BATCH_MAX = 64
"""Posts taken at once: their media are fetched together (the fetcher's `concurrency`
downloads at a time), then produced and committed together."""
_POLL_MS = 1000
_REPORT_S = 30.0


def enrich_group(settings: Settings) -> str:
    """The enrichers' consumer group."""
    return f"{settings.topic_prefix}-enrich"


def run_enrich(settings: Settings, options: FetchOptions, *, metrics_port: int = 0) -> None:
    """Run one enricher until SIGINT or SIGTERM, then commit, leave the group and return;
    with a `metrics_port`, serve its Prometheus `/metrics` there. Raises `OcrUnavailable`
    when text in images cannot be read as asked."""
    metrics = EnrichMetrics()
    if metrics_port:
        start_http_server(metrics_port, addr=settings.metrics_host, registry=metrics.registry)
    uvloop.run(Enricher(settings, options, metrics).run())


class EnrichMetrics:
    """An enricher's Prometheus metrics, in a registry of its own: its posts by outcome
    (`enriched`, or the reason of a dead letter), its media items by outcome (`fetched`, or
    the reason of a failure) and the seconds a batch takes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.posts = Counter(
            "postwatch_enrich_posts_total",
            "Raw posts handled: enriched and produced, or dead-lettered by reason.",
            ["outcome"],
            registry=self.registry,
        )
        self.media = Counter(
            "postwatch_enrich_media_total",
            "Media items fetched and hashed, or not, by reason.",
            ["outcome"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "postwatch_enrich_batch_seconds",
            "Seconds from a batch's records to their commit: downloads, hashing, OCR, acks.",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )


class Enricher:
    """One member of the enrichers' group; `counts` are its posts (`enriched`, and the
    reasons of those dead-lettered), `fetcher.stats` its media's."""

    def __init__(self, settings: Settings, options: FetchOptions, metrics: EnrichMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.counts: collections.Counter[str] = collections.Counter()
        self._counted: collections.Counter[str] = collections.Counter()  # media, in metrics
        self.fetcher = MediaFetcher(options)
        self._stopping = asyncio.Event()
        self._raw = settings.topic(POSTS_RAW)
        self._posts = settings.topic(POSTS)
        self._deadletter = settings.topic(DEADLETTER)

    def stop(self) -> None:
        """Finish the batch in progress, commit it, and return from `run`."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume until `stop()` (or SIGINT/SIGTERM), then commit and return."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        await ensure_topics(replace(self.settings, enrich=True))  # the raw topic too
        async with self.fetcher:
            producer = new_producer(self.settings, enable_idempotence=True, linger_ms=5)
            consumer = new_consumer(
                self.settings,
                self._raw,
                group_id=enrich_group(self.settings),
                auto_offset_reset="earliest",
            )
            await producer.start()
            try:
                await consumer.start()
                try:
                    log.info("enrich.starting", group=enrich_group(self.settings), raw=self._raw)
                    await self._consume(consumer, producer)
                finally:
                    await consumer.stop()
            finally:
                await producer.stop()
        log.info("enrich.stopped", **self.counts, **self._media())

    async def _consume(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        reported = time.monotonic()
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=_POLL_MS, max_records=BATCH_MAX)
            records = [record for batch in batches.values() for record in batch]
            if records:
                with self.metrics.batch_seconds.time():
                    outcomes = await asyncio.gather(*map(self._enriched, records))
                    acks = [
                        await self._send(producer, record, outcome)
                        for record, outcome in zip(records, outcomes, strict=True)
                    ]
                    await asyncio.gather(*acks)
                    try:
                        await consumer.commit()
                    except CommitFailedError as exc:  # the group moved on: its new owner repeats
                        log.warning("enrich.commit_failed", error=str(exc), posts=len(records))
                self._count_media()
            if time.monotonic() - reported >= _REPORT_S:
                reported = time.monotonic()
                log.info("enrich.progress", **self.counts, **self._media())

    async def _enriched(self, record: ConsumerRecord[bytes, bytes]) -> bytes | InvalidPost:
        """The record's post with its media filled, as JSON; or why it is no post."""
        value = record.value or b""
        try:
            parse_post(value)  # what a worker would say of it, before anything is fetched
            post = orjson.loads(value)
        except InvalidPost as exc:
            return exc
        except orjson.JSONDecodeError as exc:  # valid, and deeper than orjson reads
            return InvalidPost("too_deep", str(exc))
        enriched = await self.fetcher.enrich(post)
        if enriched is post:
            return value
        try:
            return orjson.dumps(enriched)
        except (RecursionError, orjson.JSONEncodeError) as exc:
            return InvalidPost("too_deep", f"nested deeper than can be written: {exc}")

    async def _send(
        self,
        producer: AIOKafkaProducer,
        record: ConsumerRecord[bytes, bytes],
        outcome: bytes | InvalidPost,
    ) -> asyncio.Future[Any]:
        """Queue the post (or its dead letter); the future of its acknowledgement."""
        if isinstance(outcome, bytes):
            try:
                ack: asyncio.Future[Any] = await producer.send(self._posts, outcome, key=record.key)
            except MessageSizeTooLargeError as exc:
                outcome = InvalidPost("too_large", f"enriched, over a record's size: {exc}")
            else:
                self.counts["enriched"] += 1
                self.metrics.posts.labels("enriched").inc()
                return ack
        self.counts[outcome.reason] += 1
        self.metrics.posts.labels(outcome.reason).inc()
        log.warning("enrich.dead_letter", reason=outcome.reason, offset=record.offset)
        letter = dead_letter(record, outcome.reason, outcome.error).encode()
        dead: asyncio.Future[Any] = await producer.send(self._deadletter, letter, key=record.key)
        return dead

    def _count_media(self) -> None:
        """Bring the media metric up to the fetcher's counters."""
        now = self._media()
        for name, n in now.items():
            if n > self._counted[name]:
                outcome = (
                    "fetched" if name == "media_fetched" else name.removeprefix("media_failed_")
                )
                self.metrics.media.labels(outcome).inc(n - self._counted[name])
                self._counted[name] = n

    def _media(self) -> dict[str, int]:
        stats = self.fetcher.stats
        return {
            "media_fetched": stats.fetched,
            **{f"media_failed_{reason}": n for reason, n in stats.failed.items()},
        }
