"""Every topic postwatch uses, their creation, and reading one whole.

The names here are those after the prefix (`Settings.topic` gives the full name), except
the changelogs', which belong to the worker group.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence

from postwatch.kafka.clients import (
    ConsumerRecord,
    NewTopic,
    TopicAlreadyExistsError,
    TopicPartition,
    new_admin,
    new_consumer,
)
from postwatch.settings import Settings

__all__ = [
    "ALERTS",
    "ALERTS_OCSF",
    "BANKS",
    "CONNECTOR_STATE",
    "DEADLETTER",
    "DECISIONS",
    "DELETIONS",
    "LEARNED",
    "POSTS",
    "POSTS_RAW",
    "RULES",
    "RULES_FLOOD",
    "RULES_HISTORY",
    "authors_changelog",
    "create_topics",
    "ensure_connector_topics",
    "ensure_topics",
    "follow",
    "partitions_of",
    "scan",
    "suppression_changelog",
]

POSTS = "posts"
"""Post v1 JSON, keyed by author id; connectors (or `postwatch enrich`) produce, workers
consume."""
POSTS_RAW = "posts.raw"
"""Post v1 JSON, keyed by author id, before their media are fetched: connectors produce
here when `enrich` is on, `postwatch enrich` consumes."""
ALERTS = "alerts"
"""Alert v1 JSON, keyed by alert id; workers produce, operations and SOC tools consume."""
ALERTS_OCSF = "alerts.ocsf"
"""Each alert as an OCSF Detection Finding, keyed by alert id; only when `ocsf_enabled`."""
DECISIONS = "decisions"
"""Reviewers' verdicts on alerts (`Decision` JSON), keyed by alert id, kept forever: the audit
trail; workers, the forwarder and the alert store apply them."""
DEADLETTER = "deadletter"
"""Records that could not be processed, with the reason and the original bytes."""
RULES = "rules"
"""Published packs (`PublishedPack` JSON), keyed by pack id, compacted: the latest of each."""
RULES_HISTORY = "rules.history"
"""Every published version, kept (`postwatch rules history` reads it)."""
RULES_FLOOD = "rules.flood"
"""The flood guard's state (`FloodRecord` JSON), keyed by rule id, compacted: `flooded` when
a rule was shadowed for raising too many alerts, `restored` once given back."""
BANKS = "banks"
"""Published bank entries (`BankEntry` JSON), keyed `pack/bank/hash`, compacted; a tombstone
removes one."""
LEARNED = "learned"
"""Learned fingerprints (`Learned` JSON), keyed by entry key, compacted; a tombstone forgets."""
CONNECTOR_STATE = "connector-state"
"""The connectors' resume cursors, keyed by connector instance, compacted: the latest of each
(`postwatch.connectors.state`)."""
DELETIONS = "post-deletions"
"""Notices that a source deleted a post, keyed by post id, so that downstream can mark the
alerts on posts their author deleted."""
_COMPACT = {"cleanup.policy": "compact"}
_SCAN_WAIT_MS = 10  # how long the broker holds a fetch of `scan`'s that finds nothing new
_FOREVER = {"retention.ms": "-1"}


def suppression_changelog(settings: Settings) -> str:
    """Open repeat-suppression windows of the worker group (`ChangelogWindows` JSON), keyed
    by suppression key, compacted; partition N holds the windows of posts partition N."""
    return f"{settings.group}-suppression-changelog"


def authors_changelog(settings: Settings) -> str:
    """What the workers' detectors hold of each author (`AuthorState` JSON: look-alike pairs
    alerted, escalation windows), keyed by a hash of the author id, compacted; partition N
    holds the authors of posts partition N."""
    return f"{settings.group}-authors-changelog"


async def ensure_topics(settings: Settings, *, live: bool = False) -> dict[str, int]:
    """Create postwatch's topics if they do not exist yet (existing ones are left alone);
    returns the number of partitions of each. `live` adds the topics of live rules,
    learned fingerprints and decisions, which workers and the commands that publish to them
    need, the workers' author changelog, and the suppression changelog when repeat
    suppression is on; the raw posts topic is made when media enrichment is on."""
    wanted = [
        NewTopic(settings.topic(POSTS), settings.posts_partitions, 1),
        NewTopic(settings.topic(ALERTS), settings.posts_partitions, 1),
        NewTopic(settings.topic(DEADLETTER), 1, 1),
    ]
    if live:  # one partition each: every worker reads them whole, in publication order
        wanted += [
            NewTopic(settings.topic(RULES), 1, 1, topic_configs=_COMPACT),
            NewTopic(settings.topic(RULES_HISTORY), 1, 1, topic_configs=_FOREVER),
            NewTopic(settings.topic(BANKS), 1, 1, topic_configs=_COMPACT),
            NewTopic(settings.topic(LEARNED), 1, 1, topic_configs=_COMPACT),
            NewTopic(settings.topic(DECISIONS), 1, 1, topic_configs=_FOREVER),
            NewTopic(settings.topic(RULES_FLOOD), 1, 1, topic_configs=_COMPACT),
        ]
    if live:
        wanted.append(
            NewTopic(
                authors_changelog(settings), settings.posts_partitions, 1, topic_configs=_COMPACT
            )
        )
    if live and settings.suppress_window_s > 0:
        wanted.append(
            NewTopic(
                suppression_changelog(settings),
                settings.posts_partitions,
                1,
                topic_configs=_COMPACT,
            )
        )
    if settings.ocsf_enabled:
        wanted.append(NewTopic(settings.topic(ALERTS_OCSF), settings.posts_partitions, 1))
    if settings.enrich:
        wanted.append(NewTopic(settings.topic(POSTS_RAW), settings.posts_partitions, 1))
    return await create_topics(settings, wanted)


async def ensure_connector_topics(settings: Settings) -> None:
    """Create the posts topic and the connectors' own topics if they do not exist yet."""
    await ensure_topics(settings)
    await create_topics(
        settings,
        [
            NewTopic(settings.topic(CONNECTOR_STATE), 1, 1, topic_configs=_COMPACT),
            NewTopic(settings.topic(DELETIONS), settings.posts_partitions, 1),
        ],
    )


async def partitions_of(settings: Settings, topic: str) -> list[int]:
    """The partition numbers of `topic`, none when it does not exist (asked by listing:
    asking for an unknown topic by name would have the broker create it)."""
    admin = new_admin(settings)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in described["partitions"])


async def create_topics(settings: Settings, wanted: Sequence[NewTopic]) -> dict[str, int]:
    """Create the topics of `wanted` that do not exist yet (existing ones are left alone);
    returns the number of partitions of each."""
    admin = new_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            # another process may create them between the listing and the request
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        described = await admin.describe_topics([t.name for t in wanted])
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


async def scan(
    settings: Settings,
    name: str,
    partitions: Collection[int] | None = None,
    *,
    since_ms: int | None = None,
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record the topic `name` holds now (in `partitions`, all when None; with
    `since_ms`, those written from then on), partition by partition, oldest first in each."""
    # subscribed, so that start() fetches the topic's partitions; assigned one by one below.
    # The broker answers a connection's requests in turn: with its default wait, a fetch
    # of a partition read to its end was held 500 ms, and the offsets asked for the next
    # partition behind it (3.5 s to read the four empty partitions of a changelog)
    consumer = new_consumer(
        settings, name, auto_offset_reset="earliest", fetch_max_wait_ms=_SCAN_WAIT_MS
    )
    await consumer.start()
    try:
        numbers = sorted(consumer.partitions_for_topic(name) or ())
        consumer.unsubscribe()
        for number in numbers:
            if partitions is not None and number not in partitions:
                continue
            partition = TopicPartition(name, number)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            end = (await consumer.end_offsets([partition]))[partition]
            if since_ms is not None:
                found = (await consumer.offsets_for_times({partition: since_ms}))[partition]
                if found is None:  # nothing that recent
                    continue
                consumer.seek(partition, found.offset)
            while await consumer.position(partition) < end:
                batches = await consumer.getmany(partition, timeout_ms=1000)
                for record in batches.get(partition, []):
                    yield record
    finally:
        await consumer.stop()


async def follow(
    settings: Settings,
    name: str,
    apply: Callable[[ConsumerRecord[bytes, bytes]], None],
    ready: asyncio.Event,
) -> None:
    """Apply each record of the one-partition topic `name` from its beginning, then each
    new one, until cancelled; `ready` is set once what it held at the start is applied."""
    consumer = new_consumer(settings, auto_offset_reset="earliest")
    await consumer.start()
    partition = TopicPartition(name, 0)
    try:
        # asked before the partition is assigned, so that it is asked before the first
        # fetch, which the broker may hold (and the request behind it) for 500 ms
        end = (await consumer.end_offsets([partition]))[partition]
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        while True:
            batches = await consumer.getmany(partition, timeout_ms=200)
            for record in batches.get(partition, []):
                apply(record)
            if not ready.is_set() and await consumer.position(partition) >= end:
                ready.set()
    finally:
        await consumer.stop()
