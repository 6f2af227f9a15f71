"""One batch of posts through the engine and mirror detection: evaluate → build alerts →
observe. The workers and `postwatch match` both run their posts through `evaluate_batch`, so
a pack tried on a file raises what the workers would raise over the same posts in the same
order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from postwatch.rules.alerts import Alert
from postwatch.rules.detectors.learning import Learned
from postwatch.rules.detectors.mirror import Tracker
from postwatch.rules.language.model import Match, Post
from postwatch.rules.matching.engine import Engine

__all__ = ["Failed", "Raised", "evaluate_batch"]


@dataclass(frozen=True, slots=True)
class Raised:
    """What the post at `index` of the batch raised and taught: each rule match with its
    alert, the detectors' alerts (`extra`), and the learned entries."""

    index: int
    post: Post
    matched: list[tuple[Match, Alert]]
    extra: list[Alert]
    learned: list[Learned]

    @property
    def alerts(self) -> list[Alert]:
        return [alert for _, alert in self.matched] + self.extra


@dataclass(frozen=True, slots=True)
class Failed:
    """Evaluating the post at `index` of the batch raised `error` (a defect, which is that
    post's failure and must not stop the batch)."""

    index: int
    post: Post
    error: Exception


def evaluate_batch(
    engine: Engine, tracker: Tracker | None, posts: Sequence[Post], now: datetime
) -> list[Raised | Failed]:
    """Each post of the batch, in order, that raised or taught something or whose evaluation
    failed; alerts are detected at `now`. The batch is evaluated together, and post by post
    if that raises, to find the posts that do."""
    try:
        found: Sequence[list[Match] | Exception] = engine.evaluate_many(posts)
    except Exception:  # find the post(s) that raise, one at a time
        found = [_evaluate_one(engine, post) for post in posts]
    out: list[Raised | Failed] = []
    idle = tracker is None or tracker.idle  # changes only when the tracker observes a post
    for index, (post, matches) in enumerate(zip(posts, found, strict=True)):
        if isinstance(matches, Exception):
            out.append(Failed(index, post, matches))
            continue
        if not matches and idle:
            continue
        matched = list(zip(matches, Alert.of_matches(matches, now), strict=True))
        extra, learned = tracker.observe(post, matched, now) if tracker else ([], [])
        idle = tracker is None or tracker.idle
        if matched or extra or learned:
            out.append(Raised(index, post, matched, extra, learned))
    return out


def _evaluate_one(engine: Engine, post: Post) -> list[Match] | Exception:
    try:
        return engine.evaluate(post)
    except Exception as exc:  # that post's failure
        return exc
