"""Alert v1, the record workers produce to the alerts topic (see the alert-v1 JSON Schema,
which `tests/unit/alerts/test_alert_v1.py` holds to this struct).

Five constructors make every alert there is: `Alert.of_match` for one rule match,
`Alert.detected` for the alerts of the detectors (reappearance, look-alike accounts,
escalation), `Alert.correlated` for those of correlation over alerts (campaigns,
successors), `Alert.summary` for the summary that closes a repeat-suppression window or
updates a correlation's alert, which carries how many posts were collapsed into the first
alert and which they were, and `Alert.flood` for the flood guard's
(`postwatch.rules.flood`). `encode` and `decode` are its bytes on a topic.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Literal, get_args

import msgspec

from postwatch.rules.language.model import (
    Evidence,
    Match,
    Post,
    Severity,
    SeverityLabel,
    Status,
)

__all__ = [
    "ALERT_KINDS",
    "EVIDENCE_MAX",
    "EXCERPT_MAX",
    "MEDIA_URLS_MAX",
    "MIRROR_PACK",
    "SUPPRESSED_IDS_MAX",
    "URL_MAX",
    "Alert",
    "AlertAuthor",
    "AlertPost",
    "AlertRule",
    "AlertWindow",
    "alert_id",
    "content_fingerprint",
    "decode",
    "encode",
    "excerpt",
    "isoformat",
]

EXCERPT_MAX = 280
MEDIA_URLS_MAX = 4
"""Media URLs an alert lists at most (the platforms attach four images at most, mostly)."""
URL_MAX = 2048
"""Characters of the longest media URL an alert lists."""
SUPPRESSED_IDS_MAX = 500
"""A summary lists at most this many suppressed post ids; `suppressed_count` counts them all."""
_CONTEXT = 100


def alert_id(rule_id: str, rule_version: int, post_id: str, kind: str = "rule") -> str:
    """Deterministic id: a redelivered post gives the same id, so consumers can drop repeats.

    Alerts of kind `rule` hash (rule id, rule version, post id); other kinds add their kind, so
    that the summary of a window never takes the id of the window's first alert.
    """
    parts = (rule_id, str(rule_version), post_id) + (() if kind == "rule" else (kind,))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def isoformat(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_RuleFields = tuple[str, int, str, str, SeverityLabel, tuple[str, ...]]


@lru_cache(maxsize=4096)
def _rule_view(fields: _RuleFields) -> AlertRule:
    """What an alert says of its rule (id, version, pack, title, severity, tags), made once a
    rule: a rule that matches most posts is in most alerts."""
    rule_id, version, pack, title, severity, tags = fields
    return AlertRule(
        id=rule_id, version=version, pack=pack, title=title, severity=severity, tags=tags
    )


def excerpt(text: str, span: tuple[int, int] | None) -> str:
    """At most EXCERPT_MAX characters of text, around the span when there is one."""
    if len(text) <= EXCERPT_MAX:
        return text
    start = 0 if span is None else max(0, span[0] - _CONTEXT)
    end = min(len(text), start + EXCERPT_MAX - 2)
    start = max(0, end - (EXCERPT_MAX - 2))
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


def content_fingerprint(post: Post) -> str:
    """What makes two posts "the same content" for repeat suppression: the text up to case,
    compatibility forms and spacing, and the exact hashes of the media, in any order."""
    text = " ".join(unicodedata.normalize("NFKC", post.text).casefold().split())
    media = sorted(f"{m.sha256 or ''}/{m.md5 or ''}".lower() for m in post.media)
    return hashlib.sha256("\x1f".join([text, *media]).encode("utf-8")).hexdigest()[:32]


EVIDENCE_MAX = 100
"""Pieces of evidence an alert lists at most (the first ones); `evidence_total` then counts
them all. A long post can hold a term tens of thousands of times, and an alert must stay
well within one Kafka record."""

MIRROR_PACK = "postwatch.mirror"
"""The `rule.pack` of the detectors' alerts: no pack's rule raised them."""

AlertKind = Literal[
    "rule",
    "reappearance",
    "lookalike_account",
    "escalation",
    "campaign",
    "successor",
    "summary",
    "rule_flood",
]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
_CORRELATIONS = frozenset({"campaign", "successor"})
"""Kinds whose alert is updated by summaries as what it correlates grows."""
_Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}\Z")]
_Name = Annotated[str, msgspec.Meta(min_length=1)]


class AlertRule(msgspec.Struct, frozen=True, kw_only=True):
    """The rule that raised an alert, as it was when it did."""

    id: _Name
    version: Annotated[int, msgspec.Meta(ge=1)]
    pack: _Name
    title: str
    severity: SeverityLabel
    tags: tuple[str, ...]


class AlertAuthor(msgspec.Struct, frozen=True, kw_only=True):
    id: _Name
    handle: str | None = None


class AlertPost(msgspec.Struct, frozen=True, kw_only=True):
    """What identifies the post an alert is about, and an excerpt of its text."""

    id: _Name
    source: _Name
    url: str | None = None
    created_at: str
    observed_at: str | None = None
    author: AlertAuthor
    excerpt: str
    media: tuple[str, ...] | msgspec.UnsetType = msgspec.UNSET
    """The URLs of the post's first MEDIA_URLS_MAX media items, for a reviewer to see what
    matched (left out when the post has none)."""

    @classmethod
    def of(cls, post: Post, span: tuple[int, int] | None) -> AlertPost:
        """The alert's view of `post`, its excerpt around `span`."""
        media = tuple(m.url for m in post.media[:MEDIA_URLS_MAX] if m.url and len(m.url) <= URL_MAX)
        return cls(
            id=post.id,
            source=post.source,
            url=post.url,
            created_at=isoformat(post.created),
            observed_at=isoformat(observed) if (observed := post.observed) else None,
            author=AlertAuthor(id=post.author.id, handle=post.author.handle),
            excerpt=excerpt(post.text, span),
            media=media or msgspec.UNSET,
        )


class AlertWindow(msgspec.Struct, frozen=True, kw_only=True):
    """When a suppression window opened (its first alert) and closed."""

    start: str
    end: str


class Alert(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="schema",
    tag="postwatch.alert/1",
):
    """One Alert v1. The last seven fields are those of some alerts only: `evidence_total`
    when the evidence was cut to EVIDENCE_MAX pieces, `summary_of` and the suppressed
    posts on summaries, `window` on summaries and `rule_flood` alerts, the `flood_` counts
    on the latter."""

    alert_id: _Id
    kind: AlertKind
    detected_at: str
    rule: AlertRule
    post: AlertPost
    evidence: Annotated[tuple[Evidence, ...], msgspec.Meta(min_length=1)]
    shadow: bool
    evidence_total: int | None = None
    summary_of: _Id | None = None
    suppressed_count: int | None = None
    suppressed_post_ids: tuple[str, ...] | None = None
    window: AlertWindow | None = None
    flood_count: int | None = None
    flood_limit: int | None = None

    @classmethod
    def of_match(cls, match: Match, detected_at: datetime | None = None) -> Alert:
        """The alert for one rule match."""
        (alert,) = cls.of_matches([match], detected_at or datetime.now(UTC))
        return alert

    @classmethod
    def of_matches(cls, matches: Sequence[Match], detected_at: datetime) -> list[Alert]:
        """The alerts for the rule matches of one post: what they share (the time, the
        post's view when the excerpt is the same, each rule's view) is built once, which
        keeps a rule that matches most posts cheap."""
        detected = isoformat(detected_at)
        views: dict[tuple[int, int] | None, AlertPost] = {}
        alerts = []
        for match in matches:
            rule, post, evidence = match.rule, match.post, match.evidence
            span = next((e.span for e in evidence if e.field == "text" and e.span), None)
            if span not in views:
                views[span] = AlertPost.of(post, span)
            alerts.append(
                cls(
                    alert_id=alert_id(rule.id, rule.version, post.id),
                    kind="rule",
                    detected_at=detected,
                    rule=_rule_view(
                        (
                            rule.id,
                            rule.version,
                            rule.pack,
                            rule.title,
                            rule.severity.label,
                            rule.tags,
                        )
                    ),
                    post=views[span],
                    evidence=evidence[:EVIDENCE_MAX],
                    shadow=rule.status is Status.SHADOW,
                    evidence_total=len(evidence) if len(evidence) > EVIDENCE_MAX else None,
                )
            )
        return alerts

    @classmethod
    def detected(
        cls,
        kind: AlertKind,
        post: Post,
        now: datetime,
        *,
        rule_id: str,
        title: str,
        evidence: Sequence[Evidence],
    ) -> Alert:
        """An alert a detector raises for `post`: of its own kind, under a rule of its own
        (version 1, pack MIRROR_PACK, severity high, tagged with the kind); its id is
        deterministic from rule and post."""
        return cls.correlated(
            kind,
            AlertPost.of(post, None),
            post.id,
            now,
            rule_id=rule_id,
            title=title,
            evidence=evidence,
        )

    @classmethod
    def correlated(
        cls,
        kind: AlertKind,
        post: AlertPost,
        key: str,
        now: datetime,
        *,
        rule_id: str,
        title: str,
        evidence: Sequence[Evidence],
    ) -> Alert:
        """An alert about what `key` names (a post's id, or what several alerts share),
        shown with the post `post`; as `detected` otherwise, its id deterministic from rule
        and key. At most EVIDENCE_MAX pieces of evidence are listed."""
        return cls(
            alert_id=alert_id(rule_id, 1, key, kind),
            kind=kind,
            detected_at=isoformat(now),
            rule=AlertRule(
                id=rule_id,
                version=1,
                pack=MIRROR_PACK,
                title=title,
                severity=Severity.HIGH.label,
                tags=(kind,),
            ),
            post=post,
            evidence=tuple(evidence[:EVIDENCE_MAX]),
            shadow=False,
            evidence_total=len(evidence) if len(evidence) > EVIDENCE_MAX else None,
        )

    @classmethod
    def flood(
        cls,
        alert: Alert,
        *,
        count: int,
        limit: int,
        window_s: float,
        episode: str,
        now: datetime,
    ) -> Alert:
        """The `rule_flood` alert: the rule of `alert` raised `count` alerts within the
        `window_s` before `now`, more than its `limit`, and is shadow on every worker until
        restored. It names the rule as `alert` does and shows its post (the one that tripped
        the guard); its id is deterministic from the rule and the `episode` (what restored
        the rule last), not from the post, so that workers tripping at once raise one id."""
        rule = alert.rule
        return cls(
            alert_id=alert_id(rule.id, rule.version, f"flood/{episode}", "rule_flood"),
            kind="rule_flood",
            detected_at=isoformat(now),
            rule=rule,
            post=alert.post,
            evidence=(
                Evidence(
                    type="rule_flood",
                    field="alerts",
                    value=f"more than {limit} alerts in {window_s:g} s",
                ),
            ),
            shadow=False,
            window=AlertWindow(
                start=isoformat(now - timedelta(seconds=window_s)), end=isoformat(now)
            ),
            flood_count=count,
            flood_limit=limit,
        )

    def summary(
        self,
        *,
        suppressed_count: int,
        suppressed_post_ids: Sequence[str],
        window_start: datetime,
        window_end: datetime,
        detected_at: datetime | None = None,
        evidence: Sequence[Evidence] | None = None,
    ) -> Alert:
        """The summary alert that closes the suppression window this alert opened, or that
        updates this alert of a correlation with what came after it.

        It repeats this alert's rule and post, and its evidence unless given the evidence as
        it stands now; names this alert in `summary_of`, and counts every post collapsed
        into it; at most SUPPRESSED_IDS_MAX of their post ids are listed (the earliest
        ones). Its id is deterministic from this alert's rule and post, so a summary sent
        again after a crash has the same id; a correlation's update's, from this alert's id
        and the count, so that each has its own, whichever post brought it.
        """
        rule, post = self.rule, self.post
        summary_id = (
            alert_id(rule.id, rule.version, self.alert_id, f"summary/{suppressed_count}")
            if self.kind in _CORRELATIONS
            else alert_id(rule.id, rule.version, post.id, "summary")
        )
        listed = self.evidence if evidence is None else tuple(evidence[:EVIDENCE_MAX])
        total = None if evidence is None or len(evidence) <= EVIDENCE_MAX else len(evidence)
        return msgspec.structs.replace(
            self,
            alert_id=summary_id,
            kind="summary",
            detected_at=isoformat(detected_at or datetime.now(UTC)),
            evidence=listed,
            evidence_total=self.evidence_total if evidence is None else total,
            summary_of=self.alert_id,
            suppressed_count=suppressed_count,
            suppressed_post_ids=tuple(suppressed_post_ids[:SUPPRESSED_IDS_MAX]),
            window=AlertWindow(start=isoformat(window_start), end=isoformat(window_end)),
        )


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Alert)


def encode(alert: Alert) -> bytes:
    """The alert's JSON, as it goes on the alerts topic."""
    return _ENCODER.encode(alert)


def decode(data: bytes) -> Alert:
    """An alert from its JSON; raises msgspec.DecodeError (msgspec.ValidationError for JSON
    that is no Alert v1)."""
    return _DECODER.decode(data)
