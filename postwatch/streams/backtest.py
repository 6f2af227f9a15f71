"""Backtest: candidate rule packs over the posts the posts topic still holds, against what
the live packs raised for the same posts (`postwatch rules backtest`).

The posts are read from `since` (each partition sought with `offsets_for_times`, as far as
retention allows) to the end offsets taken at the start, by a consumer in no group that
commits nothing, and evaluated with the candidate packs by `evaluate_batch`, the code of
the workers and of `postwatch match`. What the live packs raised is read from the alerts
topic over the same stretch: the alerts of kind `rule` of the candidate packs' ids, and the
posts that summaries of repeat suppression collapsed into them.

A post is compared only once the workers have read it: below the worker group's committed
offset, whose alerts are all acknowledged on the alerts topic (the alerts are read to end
offsets taken after the committed ones). Posts beyond are counted as pending, their
candidate alerts apart. The comparison is by (rule, post id): an alert the candidate would
raise and the live packs did not is added, the other way round removed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from postwatch.alerts.filters import section
from postwatch.kafka.clients import (
    AIOKafkaConsumer,
    ConsumerRecord,
    TopicPartition,
    new_admin,
    new_consumer,
)
from postwatch.kafka.topics import ALERTS, POSTS, partitions_of
from postwatch.rules import Engine, InvalidPost, Post, parse_posts
from postwatch.rules.alerts import isoformat
from postwatch.rules.evaluate import Failed, evaluate_batch
from postwatch.settings import Settings

__all__ = ["Backtest", "BacktestError", "Comparison", "Progress", "Report", "RuleDiff"]

_BATCH = 2000
"""Records read and evaluated together, at most."""
_PROGRESS_EVERY_S = 5.0


class BacktestError(Exception):
    """A backtest that cannot run; the message says why."""


@dataclass(slots=True)
class RuleDiff:
    """One rule (`pack/id`): the alerts the candidate adds and removes against the live
    packs, and those both raise (`unchanged`), with the first post ids of each change."""

    rule: str
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    added_samples: list[str] = field(default_factory=list)
    removed_samples: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Report:
    """What a backtest found. `posts_compared` of the `posts_read` were compared; the
    `posts_pending` the workers had not read yet raised `pending_alerts` with the candidate;
    `posts_skipped` were no Post v1 (or failed to evaluate). `not_compared` counts live
    alerts on posts outside the stretch read (raised just before `since`)."""

    since: str
    packs: tuple[str, ...]
    posts_read: int
    posts_compared: int
    posts_pending: int
    posts_skipped: int
    candidate_alerts: int
    live_alerts: int
    added: int
    removed: int
    unchanged: int
    pending_alerts: int
    not_compared: int
    rules: tuple[RuleDiff, ...]

    def to_json(self) -> dict[str, Any]:
        """The report as `--json` prints it."""
        return asdict(self)


class Comparison:
    """The pure part: live alerts in (`raised`), then the posts compared, each with the
    rules the candidate matched (`compare`); `report` tallies, per rule, with up to
    `samples` post ids of each change."""

    def __init__(self, rules: Iterable[str], packs: Collection[str], samples: int) -> None:
        self.packs = frozenset(packs)
        self.samples = samples
        self._rules = {rule: RuleDiff(rule) for rule in rules}
        self._live: dict[str, set[str]] = {}  # post id -> rules (pack/id) the live packs raised
        self._done: set[str] = set()  # posts compared that either side raised alerts for
        self.posts = self.pending = self.pending_alerts = 0

    def raised(self, alert: dict[str, Any]) -> None:
        """One record of the alerts topic: kept when a candidate pack's rule raised it."""
        rule = section(alert, "rule")
        pack, rule_id, kind = rule.get("pack"), rule.get("id"), alert.get("kind")
        if pack not in self.packs or not isinstance(rule_id, str):
            return
        if kind == "rule":
            posts = [section(alert, "post").get("id")]
        elif kind == "summary":  # repeats collapsed into a rule's alert were raised too
            listed = alert.get("suppressed_post_ids")
            posts = listed if isinstance(listed, list) else []
        else:
            return
        for post_id in posts:
            if isinstance(post_id, str):
                self._live.setdefault(post_id, set()).add(f"{pack}/{rule_id}")

    def compare(self, post_id: str, matched: set[str]) -> None:
        """A post the workers have read, and the rules the candidate matched on it; a post
        read again (a connector sent it twice) is compared once."""
        self.posts += 1
        live = self._live.get(post_id)
        if not matched and not live:
            return
        if post_id in self._done:
            return
        self._done.add(post_id)
        live = live or set()
        for rule in sorted(matched | live):
            diff = self._rules.setdefault(rule, RuleDiff(rule))  # a rule the candidate dropped
            if rule in matched and rule in live:
                diff.unchanged += 1
            elif rule in matched:
                diff.added += 1
                _sample(diff.added_samples, post_id, self.samples)
            else:
                diff.removed += 1
                _sample(diff.removed_samples, post_id, self.samples)

    def pend(self, matched: set[str]) -> None:
        """A post the workers have not read yet, and the rules the candidate matched on it."""
        self.pending += 1
        self.pending_alerts += len(matched)

    def report(self, since: datetime, *, read: int, skipped: int) -> Report:
        diffs = tuple(self._rules.values())
        added = sum(d.added for d in diffs)
        removed = sum(d.removed for d in diffs)
        unchanged = sum(d.unchanged for d in diffs)
        outside = sum(len(r) for post, r in self._live.items() if post not in self._done)
        return Report(
            since=isoformat(since),
            packs=tuple(sorted(self.packs)),
            posts_read=read,
            posts_compared=self.posts,
            posts_pending=self.pending,
            posts_skipped=skipped,
            candidate_alerts=added + unchanged,
            live_alerts=removed + unchanged,
            added=added,
            removed=removed,
            unchanged=unchanged,
            pending_alerts=self.pending_alerts,
            not_compared=outside,
            rules=diffs,
        )


def _sample(samples: list[str], post_id: str, limit: int) -> None:
    if len(samples) < limit:
        samples.append(post_id)


Progress = Callable[[int, int], None]
"""Called with the posts read so far and the posts to read in all."""


@dataclass
class Backtest:
    """One backtest of `engine` (the candidate packs) from `since`, keeping `samples` post
    ids of each rule's changes; `progress` hears of the posts read every few seconds."""

    settings: Settings
    engine: Engine
    since: datetime
    samples: int = 5
    progress: Progress = field(default=lambda done, total: None)

    async def run(self) -> Report:
        """Read the alerts, then the posts; raises BacktestError when there is no posts
        topic."""
        posts_topic = self.settings.topic(POSTS)
        alerts_topic = self.settings.topic(ALERTS)
        packs = [pack.id for pack in self.engine.packs]
        comparison = Comparison(
            (f"{r.pack}/{r.id}" for r in self.engine.rules), packs, self.samples
        )
        consumer = new_consumer(self.settings, auto_offset_reset="earliest")
        await consumer.start()
        try:
            posts = [
                TopicPartition(posts_topic, n)
                for n in await partitions_of(self.settings, posts_topic)
            ]
            if not posts:
                raise BacktestError(
                    f"there is no topic {posts_topic} at {self.settings.kafka_bootstrap}: "
                    "is POSTWATCH_TOPIC_PREFIX right?"
                )
            post_ranges = await _ranges(consumer, posts, self.since)
            read_by_workers = await self._committed(posts)
            alerts = [
                TopicPartition(alerts_topic, n)
                for n in await partitions_of(self.settings, alerts_topic)
            ]
            # after the committed offsets: every alert of a post below them is on the topic
            async for records in _read(consumer, await _ranges(consumer, alerts, self.since)):
                for record in records:
                    alert = _json(record.value)
                    if alert is not None:
                        comparison.raised(alert)
            read = skipped = 0
            total = sum(end - start for start, end in post_ranges.values())
            last = time.monotonic()
            async for records in _read(consumer, post_ranges):
                skipped += self._evaluate(records, comparison, read_by_workers)
                read += len(records)
                if time.monotonic() - last >= _PROGRESS_EVERY_S:
                    last = time.monotonic()
                    self.progress(read, total)
            self.progress(read, total)
        finally:
            await consumer.stop()
        return comparison.report(self.since, read=read, skipped=skipped)

    def _evaluate(
        self,
        records: list[ConsumerRecord[bytes, bytes]],
        comparison: Comparison,
        read_by_workers: dict[TopicPartition, int],
    ) -> int:
        """Evaluate one batch of posts records; returns how many were skipped."""
        decoded = parse_posts([record.value or b"" for record in records])
        posts: list[Post] = []
        at: list[ConsumerRecord[bytes, bytes]] = []
        for record, post in zip(records, decoded, strict=True):
            if not isinstance(post, InvalidPost):
                posts.append(post)
                at.append(record)
        matched: list[set[str]] = [set() for _ in posts]
        failed: set[int] = set()
        for outcome in evaluate_batch(self.engine, None, posts, datetime.now(UTC)):
            if isinstance(outcome, Failed):
                failed.add(outcome.index)
                continue
            matched[outcome.index] = {f"{m.rule.pack}/{m.rule.id}" for m, _ in outcome.matched}
        for index, (post, record) in enumerate(zip(posts, at, strict=True)):
            if index in failed:
                continue
            tp = TopicPartition(record.topic, record.partition)
            if record.offset < read_by_workers.get(tp, 0):
                comparison.compare(post.id, matched[index])
            else:
                comparison.pend(matched[index])
        return len(records) - len(posts) + len(failed)

    async def _committed(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The worker group's committed offset of each posts partition (none: 0)."""
        admin = new_admin(self.settings)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.settings.group)
        finally:
            await admin.close()
        return {tp: offsets[tp].offset for tp in partitions if tp in offsets}


async def _ranges(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], since: datetime
) -> dict[TopicPartition, tuple[int, int]]:
    """Per partition, the offsets of the first record at or after `since` and of the end
    now; a partition with nothing that recent has an empty range."""
    if not partitions:
        return {}
    ends = await consumer.end_offsets(partitions)
    wanted = int(since.timestamp() * 1000)
    found = await consumer.offsets_for_times(dict.fromkeys(partitions, wanted))
    return {
        tp: (ends[tp] if (at := found.get(tp)) is None else min(at.offset, ends[tp]), ends[tp])
        for tp in partitions
    }


async def _next_batch(
    consumer: AIOKafkaConsumer, todo: dict[TopicPartition, tuple[int, int]]
) -> list[ConsumerRecord[bytes, bytes]]:
    """The next records of the partitions still to read, below their ends; partitions read
    to their end leave `todo` (and are paused)."""
    batches = await consumer.getmany(*todo, timeout_ms=1000, max_records=_BATCH)
    out: list[ConsumerRecord[bytes, bytes]] = []
    for tp, records in batches.items():
        end = todo[tp][1]
        out += [record for record in records if record.offset < end]
    for tp in list(todo):  # offsets have gaps (compaction, transaction markers)
        if await consumer.position(tp) >= todo[tp][1]:
            consumer.pause(tp)
            del todo[tp]
    return out


async def _read(
    consumer: AIOKafkaConsumer, ranges: dict[TopicPartition, tuple[int, int]]
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """The records of each partition in its range, in batches."""
    todo = {tp: span for tp, span in ranges.items() if span[0] < span[1]}
    consumer.assign(list(todo))
    for tp, (start, _) in todo.items():
        consumer.seek(tp, start)
    while todo:
        records = await _next_batch(consumer, todo)
        if records:
            yield records


def _json(value: bytes | None) -> dict[str, Any] | None:
    try:
        alert = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    return alert if isinstance(alert, dict) else None
