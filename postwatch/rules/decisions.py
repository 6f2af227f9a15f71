"""Decisions: a reviewer's verdict on an alert, and what follows from it.

A `Decision` is one record of the decisions topic (append-only: the audit trail). It names
the alert, the verdict (`confirm`, `false_positive`, `escalate`, or a `note` that leaves
the verdict as it was), who gave it, when and why, and carries the alert as it was decided,
so that whoever applies it needs nothing else. A later verdict on the same alert supersedes
the earlier one; both stay on the topic.

`Reviews` is the state every worker keeps from the topic: the latest verdict of each alert
and the effects that hold now. From the alerts whose latest verdict is `false_positive`:

- the media hashes of hash matches, excluded from the bank that matched them (`exclusions`);
- the (author, watched account) pairs of look-alike alerts, never alerted again (`cleared`);
- the learned fingerprints reappearance alerts matched, retired (`retired`).

From the `successor` alerts whose latest verdict is `confirm`: the (author, listed account)
pairs whose author the account and watchlist conditions naming that account now hold for
(`successors`), so that the successor's own posts are caught and learned.

A verdict that replaces another takes the other's effects back. `Reviews.apply` says what
changed, so that a worker touches only that.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar, get_args

import msgspec

from postwatch.rules.alerts import Alert, alert_id, isoformat
from postwatch.rules.language.model import Severity

__all__ = [
    "NOTE_MAX",
    "VERDICTS",
    "Change",
    "Decision",
    "Exclusion",
    "Reviews",
    "Verdict",
    "escalated",
    "retired_keys",
]

Verdict = Literal["confirm", "false_positive", "escalate", "note"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
NOTE_MAX = 2000
"""Characters a decision's note holds at most."""

_Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}\Z")]
_User = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_HASH_TYPES = frozenset({"sha256", "md5", "pdq"})
_LEARNED_KEY = re.compile(r"(?:text|pdq|features)/[0-9a-f]{32}")
_T = TypeVar("_T")


class Decision(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="schema",
    tag="postwatch.decision/1",
):
    """One verdict on one alert; `encode` and `decode` are its record on the topic."""

    decision_id: _Id
    alert_id: _Id
    verdict: Verdict
    user: _User
    decided_at: str
    note: Annotated[str, msgspec.Meta(max_length=NOTE_MAX)] = ""
    alert: Alert

    def __post_init__(self) -> None:
        """Checked when decoded (a ValueError there is a msgspec.ValidationError)."""
        if self.alert.alert_id != self.alert_id:
            raise ValueError("the alert carried is not the alert decided")

    @classmethod
    def of(
        cls, alert: Alert, verdict: Verdict, user: str, note: str = "", at: datetime | None = None
    ) -> Decision:
        """A decision made now (or `at`); its id is a hash of what it says. Raises
        ValueError for a verdict that is none, an empty user or a note too long."""
        if verdict not in VERDICTS:
            raise ValueError(f"not a verdict: {verdict!r} (one of {', '.join(VERDICTS)})")
        if not user.strip():
            raise ValueError("a decision names its user")
        if len(note) > NOTE_MAX:
            raise ValueError(f"a note holds at most {NOTE_MAX} characters")
        decided_at = isoformat(at or datetime.now(UTC))
        parts = (alert.alert_id, verdict, user, decided_at, note)
        return cls(
            decision_id=hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32],
            alert_id=alert.alert_id,
            verdict=verdict,
            user=user,
            decided_at=decided_at,
            note=note,
            alert=alert,
        )

    def encode(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Decision:
        """Raises msgspec.DecodeError (ValidationError) for bytes that are no decision."""
        return _DECODER.decode(data)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Decision)


def escalated(alert: Alert) -> Alert:
    """The alert re-sent on escalation: its severity raised one step (critical stays
    critical), under an id of its own (deterministic from the alert's)."""
    raised = Severity(min(Severity[alert.rule.severity.upper()] + 1, Severity.CRITICAL))
    rule = msgspec.structs.replace(alert.rule, severity=raised.label)
    new_id = alert_id(alert.rule.id, alert.rule.version, alert.alert_id, "escalated")
    return msgspec.structs.replace(alert, alert_id=new_id, rule=rule)


def retired_keys(alert: Alert) -> list[str]:
    """The keys of the learned fingerprints a reappearance alert matched (the learned
    topic's keys): its evidence names an entry by its key, a PDQ one by its hash."""
    if alert.kind != "reappearance":
        return []
    keys = []
    for evidence in alert.evidence:
        if _LEARNED_KEY.fullmatch(evidence.value):
            keys.append(evidence.value)
        elif evidence.type == "pdq":
            digest = hashlib.sha256(evidence.value.encode("ascii")).hexdigest()[:32]
            keys.append(f"pdq/{digest}")
    return list(dict.fromkeys(keys))


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A media hash that no longer matches one bank of one pack."""

    pack: str
    bank: str
    algo: str
    value: str


@dataclass(frozen=True, slots=True)
class _Effects:
    exclusions: tuple[Exclusion, ...] = ()
    cleared: tuple[tuple[str, str], ...] = ()
    retired: tuple[str, ...] = ()
    successors: tuple[tuple[str, str], ...] = ()


def _effects(alert: Alert, verdict: Verdict | None) -> _Effects:
    """What this verdict on this alert does (nothing but for a false positive, or the
    confirmation of a successor)."""
    if verdict == "confirm" and alert.kind == "successor":
        listed = {e.original_author_id for e in alert.evidence if e.original_author_id}
        return _Effects(successors=tuple((alert.post.author.id, a) for a in sorted(listed)))
    if verdict != "false_positive":
        return _Effects()
    exclusions = tuple(
        dict.fromkeys(
            Exclusion(alert.rule.pack, e.bank, e.type, e.matched.lower())
            for e in alert.evidence
            if e.type in _HASH_TYPES and e.bank and e.matched and alert.kind == "rule"
        )
    )
    cleared = tuple(
        dict.fromkeys(
            (alert.post.author.id, e.watched_account_id)
            for e in alert.evidence
            if alert.kind == "lookalike_account" and e.watched_account_id
        )
    )
    return _Effects(exclusions, cleared, tuple(retired_keys(alert)))


@dataclass(frozen=True, slots=True)
class Change:
    """What applying a decision changed in the effects that hold."""

    excluded: tuple[Exclusion, ...] = ()
    included: tuple[Exclusion, ...] = ()
    cleared: tuple[tuple[str, str], ...] = ()
    restored: tuple[tuple[str, str], ...] = ()
    retired: tuple[str, ...] = ()
    unretired: tuple[str, ...] = ()
    watched: tuple[tuple[str, str], ...] = ()
    unwatched: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__slots__)


@dataclass
class Reviews:
    """The latest verdict of each alert decided, and the effects that hold (a hash, pair or
    key held by several alerts holds while any of them does)."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    _exclusions: Counter[Exclusion] = field(default_factory=Counter)
    _cleared: Counter[tuple[str, str]] = field(default_factory=Counter)
    _retired: Counter[str] = field(default_factory=Counter)
    _successors: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def exclusions(self) -> Iterable[Exclusion]:
        return self._exclusions.keys()

    @property
    def cleared(self) -> Iterable[tuple[str, str]]:
        return self._cleared.keys()

    @property
    def retired(self) -> Iterable[str]:
        return self._retired.keys()

    @property
    def successors(self) -> Iterable[tuple[str, str]]:
        return self._successors.keys()

    def apply(self, decision: Decision) -> Change:
        """Take one decision in (in topic order); a note changes no verdict."""
        if decision.verdict == "note":
            return Change()
        before = self.verdicts.get(decision.alert_id)
        self.verdicts[decision.alert_id] = decision.verdict
        if before == decision.verdict:
            return Change()
        old, new = _effects(decision.alert, before), _effects(decision.alert, decision.verdict)
        return Change(
            excluded=_add(self._exclusions, new.exclusions),
            included=_remove(self._exclusions, old.exclusions),
            cleared=_add(self._cleared, new.cleared),
            restored=_remove(self._cleared, old.cleared),
            retired=_add(self._retired, new.retired),
            unretired=_remove(self._retired, old.retired),
            watched=_add(self._successors, new.successors),
            unwatched=_remove(self._successors, old.successors),
        )


def _add(counts: Counter[_T], items: tuple[_T, ...]) -> tuple[_T, ...]:
    """Count the items in; returns those that were not held before."""
    new = tuple(item for item in items if not counts[item])
    counts.update(items)
    return new


def _remove(counts: Counter[_T], items: tuple[_T, ...]) -> tuple[_T, ...]:
    """Count the items out; returns those no longer held."""
    gone = []
    for item in items:
        counts[item] -= 1
        if counts[item] <= 0:
            del counts[item]
            gone.append(item)
    return tuple(gone)
