"""Escalation: an author with `count` alerts within a window raises one `escalation` alert
listing them; the next comes once a whole window has passed since it. An author's window
(`recent`, `escalated_at`) can be read and put back, so that a worker keeps it in a changelog
across restarts."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from postwatch.rules.alerts import Alert
from postwatch.rules.language.model import Evidence, Post

__all__ = ["Escalation", "Recent"]

Recent = tuple[tuple[datetime, str], ...]
"""An author's alerts in the window: the time of each one's post, and its alert id."""


@dataclass
class _AuthorAlerts:
    recent: deque[tuple[datetime, str]] = field(default_factory=deque)
    escalated_at: datetime | None = None


class Escalation:
    """The recent alerts of each author, by the time of their posts; `count` below 1 turns
    escalation off."""

    def __init__(self, count: int, window_s: float) -> None:
        self.count = count
        self.window = timedelta(seconds=window_s)
        self._authors: dict[str, _AuthorAlerts] = {}

    def of(self, author_id: str) -> tuple[Recent, datetime | None]:
        """The author's alerts in the window, and when it last escalated."""
        state = self._authors.get(author_id)
        return ((), None) if state is None else (tuple(state.recent), state.escalated_at)

    def put(self, author_id: str, recent: Recent, escalated_at: datetime | None) -> None:
        """Put an author's window back (as `of` gave it)."""
        if recent or escalated_at is not None:
            self._authors[author_id] = _AuthorAlerts(deque(recent), escalated_at)
        else:
            self._authors.pop(author_id, None)

    def alerts(self, post: Post, alerts: Sequence[Alert], now: datetime) -> list[Alert]:
        """The escalation, if any, that the post's alerts make for its author."""
        if self.count < 1 or not alerts:
            return []
        state = self._authors.setdefault(post.author.id, _AuthorAlerts())
        window = self.window
        created = post.created
        state.recent.extend((created, a.alert_id) for a in alerts)
        while state.recent and state.recent[0][0] < created - window:
            state.recent.popleft()
        if len(state.recent) < self.count or (
            state.escalated_at is not None and state.escalated_at >= created - window
        ):
            return []
        state.escalated_at = created
        listed = [alert for _, alert in state.recent]
        evidence = [Evidence("alert", "author.id", a) for a in listed]
        return [
            Alert.detected(
                "escalation",
                post,
                now,
                rule_id=f"escalation/{post.author.id}",
                title=f"{len(listed)} alerts for one author within {window}",
                evidence=evidence,
            )
        ]
