"""Mirror detection: the stateful checks that follow rule matching, one implementation for
the workers and for `postwatch match`.

`Tracker.observe(post, alerts)` takes a post and the rule alerts the engine raised for it, and
returns the extra alerts the post raises and what it taught, by these checks:

- learning (`learning`): an alert of a `learn: true` rule at or above
  `MirrorConfig.learn_severity` (or an operator's confirmation, `Tracker.confirm`) puts the
  post's text fingerprint and its images' PDQ hashes and local features into the learned
  bank, each as a `Learned` entry with its provenance;
- reappearance (`reappearance`): a post whose text or media is near a learned entry, and,
  with an embedding model configured (`semantic`), a paraphrase or translation of a text;
- look-alike accounts (`lookalike`): an author whose name looks like a watched account's;
- signs of succession (`succession`): a mirror reappearance or a look-alike alert also lists
  the links to hosts the account it names linked to, and that account's quiet spell;
- escalation (`escalation`): an author with `escalation_count` alerts within
  `escalation_window_s`.

All state is in the tracker; `Tracker.learn` applies a `Learned` entry from another worker.
What it holds of one author (the watched accounts it was alerted as a look-alike of, its
escalation window) is an `AuthorState`: `take_changed` gives those that changed since it was
last asked, and `put_author` puts one back, so that a worker keeps them in a changelog and
neither a look-alike pair is alerted twice nor a window restarts after a crash.
Posts are handled in the order given: a backtest over a file in file order raises what
workers would raise over the same posts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec

from postwatch.rules.alerts import Alert
from postwatch.rules.detectors.escalation import Escalation, Recent
from postwatch.rules.detectors.learning import Learned, LearnedBank
from postwatch.rules.detectors.lookalike import Lookalikes
from postwatch.rules.detectors.reappearance import reappearances, semantic_reappearances
from postwatch.rules.detectors.semantic import SemanticIndex, UniversalSentenceEncoder
from postwatch.rules.detectors.succession import Footprints, pack_of
from postwatch.rules.language.model import Match, Post, Severity, WatchedAccount

if TYPE_CHECKING:
    from postwatch.settings import Settings

__all__ = ["AuthorState", "MirrorConfig", "Tracker"]


class AuthorState(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the detectors hold of one author; `encode` and `decode` are its changelog record."""

    author_id: str
    lookalike_of: tuple[str, ...] = ()
    recent: Recent = ()
    escalated_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None

    @property
    def empty(self) -> bool:
        return not (self.lookalike_of or self.recent or self.escalated_at)

    def encode(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> AuthorState:
        """Raises msgspec.DecodeError (ValidationError) for bytes that are no state."""
        return _DECODER.decode(data)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(AuthorState)


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    """Thresholds; the defaults are the ones benchmarks/mirror_bench.py measured."""

    text_threshold: float = 0.4
    containment_threshold: float = 0.4
    embedding_model: str = ""
    embedding_threshold: float = 0.7
    min_words: int = 8
    learn_severity: Severity = Severity.HIGH
    pdq_max_distance: int = 31
    lookalike_distance: int = 2
    lookalike_min_length: int = 5
    escalation_count: int = 0
    escalation_window_s: float = 3600.0
    quiet_after_s: float = 86400.0
    quiet_within_s: float = 7 * 86400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MirrorConfig:
        return cls(
            text_threshold=settings.reappearance_threshold,
            containment_threshold=settings.reappearance_containment,
            embedding_model=settings.embedding_model,
            embedding_threshold=settings.embedding_threshold,
            learn_severity=Severity[settings.learn_severity.upper()],
            escalation_count=settings.escalation_count,
            escalation_window_s=settings.escalation_window_s,
            quiet_after_s=settings.quiet_after_s,
            quiet_within_s=settings.quiet_within_s,
        )


class Tracker:
    """The state of mirror detection and the checks over it (see the module docstring)."""

    def __init__(self, config: MirrorConfig, accounts: Iterable[WatchedAccount] = ()) -> None:
        self.config = config
        self._learned = LearnedBank(
            text_threshold=config.text_threshold,
            containment_threshold=config.containment_threshold,
            pdq_max_distance=config.pdq_max_distance,
        )
        self._lookalikes = Lookalikes(
            config.lookalike_distance, config.lookalike_min_length, accounts
        )
        self._escalation = Escalation(config.escalation_count, config.escalation_window_s)
        self._retired: dict[str, Learned | None] = {}  # key -> the entry, if it was learned
        self._changed: set[str] = set()  # authors whose state changed since `take_changed`
        self._footprints = Footprints(config.quiet_after_s, config.quiet_within_s)
        self._semantic = (
            SemanticIndex(
                UniversalSentenceEncoder(
                    None if config.embedding_model == "bundled" else Path(config.embedding_model)
                ),
                config.embedding_threshold,
                config.min_words,
            )
            if config.embedding_model
            else None
        )

    def watch(self, account: WatchedAccount) -> None:
        """Look-alikes of this account's handle and display name raise alerts from now on."""
        self._lookalikes.watch(account)

    def learned(self) -> list[Learned]:
        """Every learned entry, text ones first, each in the order learned."""
        return self._learned.entries()

    def learn(self, entry: Learned) -> bool:
        """Add a learned entry (from this tracker or another); False if it was known, or is
        retired (then it is kept aside, and learned if the retirement is taken back)."""
        self._footprints.note(entry)
        if entry.key in self._retired:
            self._retired[entry.key] = entry
            return False
        new = self._learned.learn(entry)
        if new and self._semantic is not None:
            self._semantic.learn(entry)
        return new

    def forget(self, key: str) -> None:
        """Remove a learned entry by key (a tombstone on the learned topic)."""
        self._learned.forget(key)
        if self._semantic is not None:
            self._semantic.forget(key)

    def author(self, author_id: str) -> AuthorState:
        """What the detectors hold of this author."""
        recent, escalated_at = self._escalation.of(author_id)
        return AuthorState(author_id, self._lookalikes.alerted(author_id), recent, escalated_at)

    def put_author(self, state: AuthorState) -> None:
        """Put back what `author` gave (from a changelog)."""
        self._lookalikes.put_alerted(state.author_id, state.lookalike_of)
        self._escalation.put(state.author_id, state.recent, state.escalated_at)

    def forget_author(self, author_id: str) -> None:
        """Drop what is held of this author (its posts went to another worker)."""
        self.put_author(AuthorState(author_id))
        self._changed.discard(author_id)

    def take_changed(self) -> list[AuthorState]:
        """The state of each author whose state changed since the last call."""
        changed = [self.author(author_id) for author_id in sorted(self._changed)]
        self._changed.clear()
        return changed

    def retire(self, key: str) -> None:
        """A reviewer found the entry `key` matched wrongly: it matches no more, even when
        learned again (the learned topic is read from its start by every worker)."""
        entry = next((e for e in self._learned.entries() if e.key == key), None)
        self._retired[key] = entry
        if entry is not None:
            self.forget(key)

    def unretire(self, key: str) -> None:
        """Take a `retire` back: the entry, if it was learned, matches again."""
        entry = self._retired.pop(key, None)
        if entry is not None:
            self.learn(entry)

    def clear_lookalike(self, author_id: str, watched_id: str) -> None:
        """A reviewer found this author no look-alike of that watched account."""
        self._lookalikes.clear(author_id, watched_id)

    def restore_lookalike(self, author_id: str, watched_id: str) -> None:
        """Take a `clear_lookalike` back."""
        self._lookalikes.restore(author_id, watched_id)

    def _learn_post(self, post: Post, alert: Alert, now: datetime) -> list[Learned]:
        learned = self._learned.learn_post(
            post, alert.alert_id, now, self.config.min_words, pack_of(alert)
        )
        for entry in learned:
            self._footprints.note(entry)
        if self._semantic is not None:
            for entry in learned:
                self._semantic.learn(entry)
        return learned

    def confirm(self, alert: Alert, post: Post, now: datetime) -> list[Learned]:
        """An operator confirmed this alert of the post: learn the post's fingerprints."""
        return self._learn_post(post, alert, now)

    @property
    def idle(self) -> bool:
        """Whether a post that matched no rule raises and teaches nothing here: nothing is
        learned to reappear and no account is watched for look-alikes."""
        learned = self._learned
        return not (learned.texts or learned.media or learned.images or self._lookalikes.watched)

    def observe(
        self, post: Post, matched: Sequence[tuple[Match, Alert]], now: datetime
    ) -> tuple[list[Alert], list[Learned]]:
        """The alerts this post raises beyond the engine's (`matched`: each match of the
        post with the alert built for it), and the entries it taught. Reappearance is
        checked before learning, so that a post is never the original of its own
        reappearance."""
        if not matched and self.idle:
            return [], []
        extra = reappearances(self._learned, post, now, self.config.min_words)
        if self._semantic is not None and not any(a.evidence[0].field == "text" for a in extra):
            extra.extend(semantic_reappearances(self._semantic, post, now))
        lookalikes = self._lookalikes.alerts(post, now)
        extra.extend(lookalikes)
        extra = [self._footprints.with_signs(alert, post) for alert in extra]
        learned: list[Learned] = []
        for match, alert in matched:
            if match.rule.learn and match.rule.severity >= self.config.learn_severity:
                learned.extend(self._learn_post(post, alert, now))
        counted = [a for _, a in matched] + extra
        extra.extend(self._escalation.alerts(post, counted, now))
        if lookalikes or (counted and self._escalation.count >= 1):
            self._changed.add(post.author.id)
        return extra, learned
