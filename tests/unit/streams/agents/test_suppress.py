"""Repeat suppression: repeats collapse into the first alert, the summary counts them all."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from postwatch.rules import Engine, Post
from postwatch.rules.alerts import SUPPRESSED_IDS_MAX, Alert, encode
from postwatch.streams.agents.suppress import Suppressor
from tests.unit.conftest import make_post, only_match
from tests.unit.streams.agents.helpers import Clock, Windows

WINDOW_S = 300.0


class Feed:
    """A suppressor over a dict store and a settable clock, and what it emitted."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.clock = Clock()
        self.windows = Windows()
        self.sent: list[dict[str, Any]] = []
        self.acknowledged = 0  # how many of `sent` were flushed
        self.suppressor = Suppressor(
            self.windows, WINDOW_S, self._emit, self._flush, clock=self.clock
        )

    async def _emit(self, alert: Alert) -> None:
        self.sent.append(orjson.loads(encode(alert)))

    async def _flush(self) -> None:
        self.acknowledged = len(self.sent)

    def offer(self, post: Post, partition: int = 0) -> bool:
        match = only_match(self.engine, post)
        return asyncio.run(self.suppressor.admit(match, Alert.of_match(match), partition))

    def sweep(self, partitions: set[int] | None = None) -> int:
        return asyncio.run(self.suppressor.sweep(partitions or {0}))


def repeat(n: int, **fields: Any) -> Post:
    return make_post(id=f"mastodon:{n}", **fields)


def test_repeats_collapse_into_the_first_alert_and_the_summary_counts_them(
    engine: Engine,
) -> None:
    feed = Feed(engine)
    assert feed.offer(repeat(1)) is True
    for n in range(2, 6):
        feed.clock.now += 10
        assert feed.offer(repeat(n)) is False
    assert [a["post"]["id"] for a in feed.sent] == ["mastodon:1"]
    feed.clock.now += WINDOW_S
    assert feed.sweep() == 1
    summary = feed.sent[-1]
    assert summary["kind"] == "summary"
    assert summary["summary_of"] == feed.sent[0]["alert_id"]
    assert summary["suppressed_count"] == 4
    assert summary["suppressed_post_ids"] == [
        "mastodon:2",
        "mastodon:3",
        "mastodon:4",
        "mastodon:5",
    ]
    assert len(feed.windows) == 0


def test_other_authors_rules_or_content_are_not_repeats(engine: Engine) -> None:
    feed = Feed(engine)
    feed.offer(repeat(1))
    assert feed.offer(repeat(2, author={"id": "mastodon:bob"})) is True
    assert feed.offer(repeat(3, text="The Sample Brigade again")) is True
    assert feed.offer(repeat(4, text="see https://example.org/x", links=["https://example.org/x"]))
    assert len(feed.sent) == 4


def test_a_window_without_repeats_closes_without_a_summary(engine: Engine) -> None:
    feed = Feed(engine)
    feed.offer(repeat(1))
    feed.clock.now += WINDOW_S
    assert feed.sweep() == 0
    assert len(feed.sent) == 1
    assert len(feed.windows) == 0


def test_a_repeat_after_the_window_summarises_it_and_opens_a_new_one(engine: Engine) -> None:
    feed = Feed(engine)
    feed.offer(repeat(1))
    feed.offer(repeat(2))
    feed.clock.now += WINDOW_S + 1
    assert feed.offer(repeat(3)) is True
    assert [(a["kind"], a["post"]["id"]) for a in feed.sent] == [
        ("rule", "mastodon:1"),
        ("summary", "mastodon:1"),
        ("rule", "mastodon:3"),
    ]
    assert feed.sent[1]["suppressed_post_ids"] == ["mastodon:2"]


def test_redelivered_posts_are_neither_lost_nor_counted_twice(engine: Engine) -> None:
    feed = Feed(engine)
    feed.offer(repeat(1))
    feed.offer(repeat(2))
    # after a crash the same records come again
    assert feed.offer(repeat(1)) is True  # the first alert again, with the same id
    assert feed.offer(repeat(2)) is False
    assert feed.sent[0]["alert_id"] == feed.sent[1]["alert_id"]
    feed.clock.now += WINDOW_S
    feed.sweep()
    assert feed.sent[-1]["suppressed_count"] == 1


def test_sweep_closes_only_windows_of_partitions_owned(engine: Engine) -> None:
    feed = Feed(engine)
    feed.offer(repeat(1), partition=2)
    feed.offer(repeat(2), partition=2)
    feed.clock.now += WINDOW_S
    assert feed.sweep({0, 1}) == 0
    assert len(feed.windows) == 1
    assert feed.sweep({2}) == 1
    assert [partition for _, partition in feed.windows.deleted] == [2]


def test_a_flood_keeps_counting_past_the_listed_ids(engine: Engine) -> None:
    feed = Feed(engine)
    feed.offer(repeat(0))
    flood = SUPPRESSED_IDS_MAX + 20
    for n in range(1, flood + 1):
        feed.offer(repeat(n))
    feed.clock.now += WINDOW_S
    feed.sweep()
    assert feed.sent[-1]["suppressed_count"] == flood
    assert len(feed.sent[-1]["suppressed_post_ids"]) == SUPPRESSED_IDS_MAX


def test_a_summary_is_acknowledged_before_its_window_is_deleted(engine: Engine) -> None:
    feed = Feed(engine)
    acknowledged_at_delete: list[int] = []

    class Recording(Windows):
        async def delete(self, key: str, partition: int) -> None:
            acknowledged_at_delete.append(feed.acknowledged)
            await super().delete(key, partition)

    feed.windows = Recording()
    feed.suppressor.windows = feed.windows
    feed.offer(repeat(1))
    feed.offer(repeat(2))
    feed.clock.now += WINDOW_S
    assert feed.sweep() == 1
    assert acknowledged_at_delete == [2]  # the first alert and the summary
