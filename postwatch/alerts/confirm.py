"""`postwatch alerts confirm ALERT_ID`: an operator says an alert was right, and the post it
names teaches its fingerprints (text and media PDQ) to every worker, as a `learn: true` rule
would have: the entries go to the learned topic with the alert as their provenance."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from postwatch.alerts import AlertsError
from postwatch.kafka.clients import new_producer
from postwatch.kafka.topics import ALERTS, LEARNED, POSTS, ensure_topics, scan
from postwatch.rules import InvalidPost, Post, parse_post
from postwatch.rules.alerts import decode
from postwatch.rules.detectors.learning import Learned
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.settings import Settings

__all__ = ["NotFound", "confirm"]


class NotFound(AlertsError):
    """The alert, or the post it names, is not on its topic (any more)."""


async def _find_post(settings: Settings, post_id: str, author_id: str) -> Post:
    async for record in scan(settings, settings.topic(POSTS)):
        # posts are keyed by author id: the key tells which records can be the post
        if record.key == author_id.encode() and record.value:
            try:
                post = parse_post(record.value)
            except InvalidPost:
                continue
            if post.id == post_id:
                return post
    raise NotFound(f"post {post_id} is not on {settings.topic(POSTS)}")


async def confirm(settings: Settings, alert_id: str) -> list[Learned]:
    """Learn the fingerprints of the post of this alert on every worker; returns the new
    entries (none when the text is too short and the post has no media hashes)."""
    await ensure_topics(settings, live=True)
    alert = None
    async for record in scan(settings, settings.topic(ALERTS)):
        if record.key == alert_id.encode() and record.value:
            try:
                alert = decode(record.value)
            except msgspec.DecodeError as exc:
                raise AlertsError(f"alert {alert_id} is no Alert v1: {exc}") from exc
            break
    if alert is None:
        raise NotFound(f"alert {alert_id} is not on {settings.topic(ALERTS)}")
    post = await _find_post(settings, alert.post.id, alert.post.author.id)
    tracker = Tracker(MirrorConfig.from_settings(settings))
    entries = tracker.confirm(alert.alert_id, post, datetime.now(UTC))
    producer = new_producer(settings)
    await producer.start()
    try:
        for entry in entries:
            value = entry.encode()
            await producer.send_and_wait(settings.topic(LEARNED), value, key=entry.key.encode())
    finally:
        await producer.stop()
    return entries
