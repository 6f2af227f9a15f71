"""Decisions on alerts: `postwatch alerts decide ALERT_ID VERDICT` (and its shorthand
`alerts confirm`), and the review console, record a reviewer's verdict on the decisions
topic; workers, the forwarder and the alert store apply it from there (see
`postwatch.rules.decisions`).

One effect is the decider's own, because only the post itself holds what it needs: a
`confirm` teaches the post's fingerprints (text and media) to every worker, as a `learn:
true` rule would have, with the alert as their provenance (the learned topic). When the post
is no longer on the posts topic, the decision is recorded all the same and nothing is learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import msgspec

from postwatch.alerts import AlertsError
from postwatch.kafka.clients import AIOKafkaProducer, new_producer
from postwatch.kafka.topics import ALERTS, DECISIONS, LEARNED, POSTS, ensure_topics, scan
from postwatch.rules import InvalidPost, Post, parse_post
from postwatch.rules.alerts import Alert, decode
from postwatch.rules.decisions import Decision, Verdict
from postwatch.rules.detectors.learning import Learned
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.settings import Settings

__all__ = ["Decided", "Decider", "NotFound", "decide", "find_alert"]


class NotFound(AlertsError):
    """The alert is not on its topic (any more), or was never raised."""


async def find_alert(settings: Settings, alert_id: str) -> Alert:
    """The alert of this id on the alerts topic; raises NotFound."""
    async for record in scan(settings, settings.topic(ALERTS)):
        if record.key == alert_id.encode() and record.value:
            try:
                return decode(record.value)
            except msgspec.DecodeError as exc:
                raise AlertsError(f"alert {alert_id} is no Alert v1: {exc}") from exc
    raise NotFound(f"alert {alert_id} is not on {settings.topic(ALERTS)}")


_BEFORE_S = 3600
"""How long before the time an alert's post gives (its creation, its observation) the post
may have been written to the posts topic, clocks being what they are."""


async def _find_post(settings: Settings, alert: Alert) -> Post | None:
    """The alert's post on the posts topic, looked for from shortly before its time on (a
    posts topic holds far more than an alert store)."""
    post_id, author_id = alert.post.id, alert.post.author.id
    times = [alert.post.created_at, *([alert.post.observed_at] if alert.post.observed_at else [])]
    try:
        since = min(datetime.fromisoformat(t) for t in times).timestamp() - _BEFORE_S
    except (ValueError, TypeError):  # a time without a zone or none at all: read it all
        since = None
    since_ms = None if since is None else max(0, int(since * 1000))
    async for record in scan(settings, settings.topic(POSTS), since_ms=since_ms):
        # posts are keyed by author id: the key tells which records can be the post
        if record.key == author_id.encode() and record.value:
            try:
                post = parse_post(record.value)
            except InvalidPost:
                continue
            if post.id == post_id:
                return post
    return None


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision on the topic, and for a `confirm` what its post taught: `learned` is None
    when the post was no longer on the posts topic."""

    decision: Decision
    learned: list[Learned] | None = None


class Decider:
    """Records decisions with one producer: `async with Decider(settings) as decider`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> Decider:
        await ensure_topics(self.settings, live=True)
        self._producer = new_producer(self.settings)
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def decide(self, alert: Alert, verdict: Verdict, user: str, note: str = "") -> Decided:
        """Put the decision on the decisions topic, acknowledged; for a `confirm`, then
        teach its post. Raises ValueError for a verdict, user or note that cannot be."""
        if self._producer is None:
            raise RuntimeError("a Decider is used in `async with`")
        decision = Decision.of(alert, verdict, user, note)
        key = alert.alert_id.encode()
        await self._producer.send_and_wait(
            self.settings.topic(DECISIONS), decision.encode(), key=key
        )
        if verdict != "confirm":
            return Decided(decision)
        post = await _find_post(self.settings, alert)
        if post is None:
            return Decided(decision)
        tracker = Tracker(MirrorConfig.from_settings(self.settings))
        entries = tracker.confirm(alert, post, datetime.now(UTC))
        for entry in entries:
            await self._producer.send_and_wait(
                self.settings.topic(LEARNED), entry.encode(), key=entry.key.encode()
            )
        return Decided(decision, entries)


async def decide(
    settings: Settings, alert_id: str, verdict: Verdict, user: str, note: str = ""
) -> Decided:
    """Decide on the alert of this id (looked up on the alerts topic; NotFound if it is not
    there)."""
    await ensure_topics(settings, live=True)
    alert = await find_alert(settings, alert_id)
    async with Decider(settings) as decider:
        return await decider.decide(alert, verdict, user, note)
