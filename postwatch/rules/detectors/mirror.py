"""Mirror detection: the stateful checks that follow rule matching, one implementation for
the workers and for `postwatch match`.

`Tracker.observe(post, alerts)` takes a post and the rule alerts the engine raised for it, and
returns the extra alerts the post raises and what it taught:

- learning: an alert of a `learn: true` rule at or above `MirrorConfig.learn_severity` (or an
  operator's confirmation, `Tracker.confirm`) puts the post's text fingerprint (MinHash over
  folded word shingles; texts under `min_words` words are not fingerprinted) and its media PDQ
  hashes into the learned bank, each as a `Learned` entry with its provenance;
- reappearance: a post whose text or media is near a learned entry raises a `reappearance`
  alert naming the original post and author, the similarity, and whether the author is the
  same (a repeat) or another (a mirror);
- look-alike accounts: an author whose folded handle or display name is within
  `lookalike_distance` edits of a watched account's, or contains it, raises one
  `lookalike_account` alert per (author, watched account);
- escalation: an author with `escalation_count` alerts within `escalation_window_s` raises one
  `escalation` alert listing them.

All state is in the tracker; `Learned` entries are plain records (`to_json`/`from_json`) so
that a worker can share them with every other worker (`Tracker.learn` applies one from
elsewhere). Posts are handled in the order given: a backtest over a file in file order raises
what workers would raise over the same posts.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from postwatch.rules.alerts import alert_id, alert_post, excerpt, isoformat
from postwatch.rules.language.model import Match, Post, Severity, WatchedAccount
from postwatch.rules.matching.banks import HashBank
from postwatch.rules.matching.normalize import fold

if TYPE_CHECKING:
    from datasketch import MinHash, MinHashLSH

    from postwatch.settings import Settings

__all__ = [
    "Learned",
    "MirrorConfig",
    "Tracker",
    "fingerprint",
    "similarity",
]

NUM_PERM = 128
"""MinHash permutations: the estimate's standard error is about 1/sqrt(128) = 0.09."""
SHINGLE_WORDS = 2
_SEED = 1
_SCHEME = "affine32"  # datasketch 2's default; named, as restored signatures must say it
_MIRROR_PACK = "postwatch.mirror"  # the `rule.pack` of alerts raised here, not by a pack


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    """Thresholds; the defaults are the ones benchmarks/mirror_bench.py measured."""

    text_threshold: float = 0.4
    min_words: int = 8
    learn_severity: Severity = Severity.HIGH
    pdq_max_distance: int = 31
    lookalike_distance: int = 2
    lookalike_min_length: int = 5
    escalation_count: int = 0
    escalation_window_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MirrorConfig:
        return cls(
            text_threshold=settings.reappearance_threshold,
            learn_severity=Severity[settings.learn_severity.upper()],
            escalation_count=settings.escalation_count,
            escalation_window_s=settings.escalation_window_s,
        )


@dataclass(frozen=True, slots=True)
class Learned:
    """One learned fingerprint with its provenance.

    `kind` is `text` (value: the MinHash signature, hex of NUM_PERM little-endian uint32) or
    `pdq` (value: the hash, hex). `key` identifies the entry (a compacted topic's key)."""

    kind: str
    value: str
    alert_id: str
    post_id: str
    author_id: str
    author_handle: str | None
    learned_at: datetime
    excerpt: str = ""

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.value.encode("ascii")).hexdigest()[:32]
        return f"{self.kind}/{digest}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "alert_id": self.alert_id,
            "post_id": self.post_id,
            "author_id": self.author_id,
            "author_handle": self.author_handle,
            "learned_at": isoformat(self.learned_at),
            "excerpt": self.excerpt,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Learned:
        """Raises KeyError or ValueError for a document `to_json` did not make."""
        return cls(
            doc["kind"],
            doc["value"],
            doc["alert_id"],
            doc["post_id"],
            doc["author_id"],
            doc.get("author_handle"),
            datetime.fromisoformat(doc["learned_at"]),
            doc.get("excerpt", ""),
        )


def fingerprint(text: str, min_words: int) -> MinHash | None:
    """The MinHash of the folded word bigrams of a text (a set: order of sentences matters
    only at their joins), or None for a text of fewer than `min_words` folded words."""
    words = fold(text).text.split()
    if len(words) < min_words:
        return None
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - 1)}
    from datasketch import MinHash  # noqa: PLC0415 - datasketch imports scipy (0.6 s)

    signature = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)
    signature.update_batch([s.encode() for s in sorted(shingles)])
    return signature


def similarity(a: MinHash, b: MinHash) -> float:
    """The estimated Jaccard similarity of the two shingle sets."""
    return float(a.jaccard(b))


def _to_hex(signature: MinHash) -> str:
    return bytes(signature.hashvalues.astype("<u4").tobytes()).hex()


def _from_hex(value: str) -> MinHash:
    values = np.frombuffer(bytes.fromhex(value), dtype="<u4").astype(np.uint32)
    from datasketch import MinHash  # noqa: PLC0415 - datasketch imports scipy (0.6 s)

    return MinHash(num_perm=NUM_PERM, seed=_SEED, hashvalues=values, scheme=_SCHEME)


def _compact(name: str) -> str:
    """A handle or display name folded (homoglyphs, leetspeak) with separators removed;
    a handle's server part (`@server`, `.bsky.social`) is left out."""
    name = name.lstrip("@").split("@", 1)[0].removesuffix(".bsky.social")
    return fold(name).text.replace(" ", "")


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or limit + 1 once it is certainly above limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


@dataclass
class _AuthorAlerts:
    recent: deque[tuple[datetime, str]] = field(default_factory=deque)
    escalated_at: datetime | None = None


class Tracker:
    """The state of mirror detection and the checks over it (see the module docstring)."""

    def __init__(self, config: MirrorConfig, accounts: Iterable[WatchedAccount] = ()) -> None:
        self.config = config
        self._lsh: MinHashLSH | None = None  # made with the first text entry
        self._text: dict[str, tuple[MinHash, Learned]] = {}
        self._pdq = HashBank("learned", pdq_max_distance=config.pdq_max_distance, min_quality=0)
        self._pdq_entries: dict[str, Learned] = {}
        self._watched: dict[str, tuple[WatchedAccount, list[str]]] = {}
        self._lookalikes: set[tuple[str, str]] = set()
        self._authors: dict[str, _AuthorAlerts] = {}
        for account in accounts:
            self.watch(account)

    def _text_index(self) -> MinHashLSH:
        if self._lsh is None:
            from datasketch import MinHashLSH  # noqa: PLC0415 - datasketch imports scipy (0.6 s)

            # candidates from a lower LSH threshold, so that pairs just above the real one
            # are not lost to banding; each is then scored against text_threshold
            lsh_threshold = max(0.1, self.config.text_threshold - 0.1)
            self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=NUM_PERM)
        return self._lsh

    def watch(self, account: WatchedAccount) -> None:
        """Look-alikes of this account's handle and display name raise alerts from now on."""
        names = [_compact(n) for n in (account.handle, account.display_name) if n]
        names = [n for n in dict.fromkeys(names) if len(n) >= self.config.lookalike_min_length]
        self._watched[account.id] = (account, names)

    def learned(self) -> list[Learned]:
        """Every learned entry, text ones first, each in the order learned."""
        return [entry for _, entry in self._text.values()] + list(self._pdq_entries.values())

    def learn(self, entry: Learned) -> bool:
        """Add a learned entry (from this tracker or another); False if it was known."""
        if entry.kind == "text":
            if entry.key in self._text:
                return False
            signature = _from_hex(entry.value)
            self._text[entry.key] = (signature, entry)
            self._text_index().insert(entry.key, signature)
            return True
        if entry.value in self._pdq_entries:
            return False
        self._pdq.add("pdq", entry.value)
        self._pdq_entries[entry.value] = entry
        return True

    def forget(self, key: str) -> None:
        """Remove a learned entry by key (a tombstone on the learned topic)."""
        if key in self._text:
            del self._text[key]
            self._text_index().remove(key)
            return
        # PDQIndex has no removal: the bank is rebuilt without the entry
        kept = [e for e in self._pdq_entries.values() if e.key != key]
        if len(kept) != len(self._pdq_entries):
            self._pdq = HashBank(
                "learned", pdq_max_distance=self.config.pdq_max_distance, min_quality=0
            )
            self._pdq_entries = {}
            for entry in kept:
                self.learn(entry)

    def confirm(self, alert: dict[str, Any], post: Post, now: datetime) -> list[Learned]:
        """An operator confirmed this alert of this post: learn the post's fingerprints."""
        return self._learn_post(post, alert["alert_id"], now)

    @property
    def idle(self) -> bool:
        """Whether a post that matched no rule raises and teaches nothing here: nothing is
        learned to reappear and no account is watched for look-alikes."""
        return not (self._text or self._pdq_entries or self._watched)

    def observe(
        self, post: Post, matched: Sequence[tuple[Match, dict[str, Any]]], now: datetime
    ) -> tuple[list[dict[str, Any]], list[Learned]]:
        """The alerts this post raises beyond the engine's (`matched`: each match of the
        post with the alert built for it), and the entries it taught. Reappearance is
        checked before learning, so that a post is never the original of its own
        reappearance."""
        if not matched and self.idle:
            return [], []
        extra = self._reappearances(post, now)
        extra.extend(self._lookalike_alerts(post, now))
        learned: list[Learned] = []
        for match, alert in matched:
            if match.rule.learn and match.rule.severity >= self.config.learn_severity:
                learned.extend(self._learn_post(post, alert["alert_id"], now))
        extra.extend(self._escalation(post, [a for _, a in matched] + extra, now))
        return extra, learned

    def _learn_post(self, post: Post, source_alert: str, now: datetime) -> list[Learned]:
        def entry(kind: str, value: str) -> Learned:
            return Learned(
                kind,
                value,
                source_alert,
                post.id,
                post.author.id,
                post.author.handle,
                now,
                excerpt(post.text, None),
            )

        found: list[Learned] = []
        signature = fingerprint(post.text, self.config.min_words)
        if signature is not None:
            found.append(entry("text", _to_hex(signature)))
        found.extend(entry("pdq", m.pdq.lower()) for m in post.media if m.pdq)
        return [e for e in found if self.learn(e)]

    def _reappearances(self, post: Post, now: datetime) -> list[dict[str, Any]]:
        hits: list[tuple[Learned, dict[str, Any]]] = []
        signature = fingerprint(post.text, self.config.min_words) if self._text else None
        if signature is not None:
            for key in sorted(self._text_index().query(signature)):
                original_signature, original = self._text[key]
                score = similarity(signature, original_signature)
                if score >= self.config.text_threshold and original.post_id != post.id:
                    hits.append(
                        (
                            original,
                            {
                                "type": "text_fingerprint",
                                "field": "text",
                                "similarity": round(score, 3),
                            },
                        )
                    )
        for i, media in enumerate(post.media):
            if not media.pdq or not self._pdq_entries:
                continue
            for hit in self._pdq.lookup(media):
                original = self._pdq_entries[hit.value]
                if original.post_id != post.id:
                    hits.append(
                        (
                            original,
                            {
                                "type": "pdq",
                                "field": f"media[{i}]",
                                "distance": hit.distance,
                                "matched": hit.matched,
                            },
                        )
                    )
        alerts: list[dict[str, Any]] = []
        for original, found in hits:
            relation = "repeat" if original.author_id == post.author.id else "mirror"
            evidence = {
                **found,
                "value": original.value[:64] if original.kind == "pdq" else original.key,
                "original_post_id": original.post_id,
                "original_author_id": original.author_id,
                "original_author_handle": original.author_handle,
                "original_alert_id": original.alert_id,
                "relation": relation,
            }
            alerts.append(
                self._alert(
                    "reappearance",
                    post,
                    now,
                    rule_id=f"reappearance/{original.key}",
                    title=f"Reappearance ({relation}) of post {original.post_id}",
                    evidence=[evidence],
                )
            )
        return alerts

    def _lookalike_alerts(self, post: Post, now: datetime) -> list[dict[str, Any]]:
        author = post.author
        if author.id in self._watched or not self._watched:
            return []
        names = {
            field: _compact(value)
            for field, value in (
                ("author.handle", author.handle),
                ("author.display_name", author.display_name),
            )
            if value
        }
        alerts: list[dict[str, Any]] = []
        for watched_id, (account, watched_names) in self._watched.items():
            if (author.id, watched_id) in self._lookalikes:
                continue
            evidence = [
                {
                    "type": "lookalike",
                    "field": field,
                    "value": watched,
                    "matched": name,
                    "distance": _edit_distance(name, watched, self.config.lookalike_distance),
                    "watched_account_id": watched_id,
                }
                for field, name in names.items()
                for watched in watched_names
                if watched in name
                or _edit_distance(name, watched, self.config.lookalike_distance)
                <= self.config.lookalike_distance
            ]
            if evidence:
                self._lookalikes.add((author.id, watched_id))
                label = account.handle or account.display_name or watched_id
                alerts.append(
                    self._alert(
                        "lookalike_account",
                        post,
                        now,
                        rule_id=f"lookalike/{watched_id}",
                        title=f"Account looks like watched account {label}",
                        evidence=evidence,
                    )
                )
        return alerts

    def _escalation(
        self, post: Post, alerts: Sequence[dict[str, Any]], now: datetime
    ) -> list[dict[str, Any]]:
        count = self.config.escalation_count
        if count < 1 or not alerts:
            return []
        state = self._authors.setdefault(post.author.id, _AuthorAlerts())
        window = timedelta(seconds=self.config.escalation_window_s)
        created = post.created
        state.recent.extend((created, a["alert_id"]) for a in alerts)
        while state.recent and state.recent[0][0] < created - window:
            state.recent.popleft()
        if len(state.recent) < count or (
            state.escalated_at is not None and state.escalated_at >= created - window
        ):
            return []
        state.escalated_at = created
        listed = [alert for _, alert in state.recent]
        evidence = [{"type": "alert", "field": "author.id", "value": a} for a in listed]
        return [
            self._alert(
                "escalation",
                post,
                now,
                rule_id=f"escalation/{post.author.id}",
                title=f"{len(listed)} alerts for one author within {window}",
                evidence=evidence,
            )
        ]

    def _alert(
        self,
        kind: str,
        post: Post,
        now: datetime,
        *,
        rule_id: str,
        title: str,
        evidence: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "schema": "postwatch.alert/1",
            "alert_id": alert_id(rule_id, 1, post.id, kind),
            "kind": kind,
            "detected_at": isoformat(now),
            "rule": {
                "id": rule_id,
                "version": 1,
                "pack": _MIRROR_PACK,
                "title": title,
                "severity": Severity.HIGH.label,
                "tags": [kind],
            },
            "post": alert_post(post, None),
            "evidence": evidence,
            "shadow": False,
        }
