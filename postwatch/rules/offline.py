"""A file of posts matched offline (`postwatch match`): the engine and mirror detection of a
worker, in file order, with the counts a rule writer reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postwatch.rules.alerts import build_alert
from postwatch.rules.detectors.mirror import Tracker
from postwatch.rules.language.model import Post
from postwatch.rules.matching.engine import Engine
from postwatch.rules.posts import InvalidPost, parse_posts

__all__ = ["FileMatch", "RuleHits"]

SAMPLES = 3
"""Post ids kept for each rule, the first it matched."""


@dataclass(frozen=True, slots=True)
class RuleHits:
    """How often one rule (`pack/id`) matched: `share` of the posts read (None before
    any), and the first posts it matched."""

    rule: str
    hits: int
    share: float | None
    samples: tuple[str, ...]


class FileMatch:
    """Reads the lines of a file of Post v1 lines, batch after batch in file order (mirror
    detection depends on it), and counts: `lines` read, `posts` among them, `skipped` lines
    that are no post, alerts raised by `kinds`."""

    def __init__(self, engine: Engine, tracker: Tracker) -> None:
        self.engine = engine
        self.tracker = tracker
        self.lines = 0
        self.posts = 0
        self.skipped = 0
        self.kinds: Counter[str] = Counter()
        self._hits: Counter[str] = Counter({f"{r.pack}/{r.id}": 0 for r in engine.rules})
        self._samples: dict[str, list[str]] = {}

    def feed(
        self, lines: list[bytes], now: datetime
    ) -> tuple[list[dict[str, Any]], list[tuple[int, InvalidPost]]]:
        """The alerts of the next lines of the file, in order, detected at `now`; and the
        lines among them that are no post, with their number in the file (from 1). Blank
        lines are passed over."""
        first = self.lines + 1
        self.lines += len(lines)
        decoded = parse_posts(lines)
        batch = [post for post in decoded if not isinstance(post, InvalidPost)]
        skipped = [
            (number, post)
            for number, (line, post) in enumerate(zip(lines, decoded, strict=True), first)
            if isinstance(post, InvalidPost) and not line.isspace()
        ]
        self.posts += len(batch)
        self.skipped += len(skipped)
        return self._evaluate(batch, now), skipped

    def _evaluate(self, batch: list[Post], now: datetime) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        idle = self.tracker.idle  # changes only when the tracker observes a post
        for post, found in zip(batch, self.engine.evaluate_many(batch), strict=True):
            if not found and idle:
                continue
            matched = [(m, build_alert(m, now)) for m in found]
            extra, _ = self.tracker.observe(post, matched, now)
            idle = self.tracker.idle
            for m, _alert in matched:
                rule = f"{m.rule.pack}/{m.rule.id}"
                self._hits[rule] += 1
                samples = self._samples.setdefault(rule, [])
                if len(samples) < SAMPLES:
                    samples.append(post.id)
            alerts += [a for _, a in matched] + extra
        self.kinds.update(alert["kind"] for alert in alerts)
        return alerts

    def hits(self) -> list[RuleHits]:
        """Hits of every rule, noisiest first (then by name), so that a rule writer sees
        what a rule would raise."""
        return [
            RuleHits(
                rule,
                hits,
                hits / self.posts if self.posts else None,
                tuple(self._samples.get(rule, ())),
            )
            for rule, hits in sorted(self._hits.items(), key=lambda item: (-item[1], item[0]))
        ]
