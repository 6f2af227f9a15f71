"""A file of posts matched offline (`postwatch match`): the engine and mirror detection of a
worker, then correlation over the alerts, in file order, with the counts a rule writer
reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from postwatch.rules.alerts import Alert
from postwatch.rules.detectors.correlation import Correlator
from postwatch.rules.detectors.mirror import Tracker
from postwatch.rules.evaluate import Failed, evaluate_batch
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
    (no post, or a post whose evaluation failed), alerts raised by `kinds`."""

    def __init__(self, engine: Engine, tracker: Tracker, correlator: Correlator) -> None:
        self.engine = engine
        self.tracker = tracker
        self.correlator = correlator
        self.lines = 0
        self.posts = 0
        self.skipped = 0
        self.kinds: Counter[str] = Counter()
        self._hits: Counter[str] = Counter({f"{r.pack}/{r.id}": 0 for r in engine.rules})
        self._samples: dict[str, list[str]] = {}

    def feed(
        self, lines: list[bytes], now: datetime
    ) -> tuple[list[Alert], list[tuple[int, InvalidPost]]]:
        """The alerts of the next lines of the file, in order, detected at `now`; and the
        lines among them that were skipped, with their number in the file (from 1): lines
        that are no post, and posts whose evaluation failed (`evaluation_failed`). Blank
        lines are passed over."""
        first = self.lines + 1
        self.lines += len(lines)
        batch: list[Post] = []
        numbers: list[int] = []
        skipped: list[tuple[int, InvalidPost]] = []
        for number, (line, post) in enumerate(zip(lines, parse_posts(lines), strict=True), first):
            if not isinstance(post, InvalidPost):
                batch.append(post)
                numbers.append(number)
            elif not line.isspace():
                skipped.append((number, post))
        alerts: list[Alert] = []
        for outcome in evaluate_batch(self.engine, self.tracker, batch, now):
            if isinstance(outcome, Failed):
                invalid = InvalidPost("evaluation_failed", repr(outcome.error))
                skipped.append((numbers[outcome.index], invalid))
                continue
            for m, _alert in outcome.matched:
                rule = f"{m.rule.pack}/{m.rule.id}"
                self._hits[rule] += 1
                samples = self._samples.setdefault(rule, [])
                if len(samples) < SAMPLES:
                    samples.append(outcome.post.id)
            alerts += outcome.alerts
            for alert in outcome.alerts:
                alerts += self.correlator.observe(alert, now)
        self.posts += len(batch)
        self.skipped += len(skipped)
        self.kinds.update(alert.kind for alert in alerts)
        return alerts, sorted(skipped, key=lambda item: item[0])

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
