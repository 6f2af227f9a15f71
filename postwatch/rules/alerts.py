"""Alert v1 records built from matches (see the alert-v1 JSON Schema).

Two kinds come from here: the alert for one match (`build_alert`) and the summary that closes
a repeat-suppression window (`build_summary`), which carries how many repeats were collapsed
into the window's first alert and which posts they were.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from postwatch.rules.language.model import Match, Post, Status

__all__ = [
    "EVIDENCE_MAX",
    "EXCERPT_MAX",
    "SUPPRESSED_IDS_MAX",
    "alert_id",
    "alert_post",
    "build_alert",
    "build_summary",
    "content_fingerprint",
    "excerpt",
    "isoformat",
]

EXCERPT_MAX = 280
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


def build_alert(match: Match, detected_at: datetime | None = None) -> dict[str, Any]:
    """The Alert v1 document for one match."""
    rule, post = match.rule, match.post
    first_span = next((e.span for e in match.evidence if e.field == "text" and e.span), None)
    return {
        "schema": "postwatch.alert/1",
        "alert_id": alert_id(rule.id, rule.version, post.id),
        "kind": "rule",
        "detected_at": isoformat(detected_at or datetime.now(UTC)),
        "rule": {
            "id": rule.id,
            "version": rule.version,
            "pack": rule.pack,
            "title": rule.title,
            "severity": rule.severity.label,
            "tags": list(rule.tags),
        },
        "post": alert_post(post, first_span),
        "evidence": [e.to_json() for e in match.evidence[:EVIDENCE_MAX]],
        "shadow": rule.status is Status.SHADOW,
        **({"evidence_total": len(match.evidence)} if len(match.evidence) > EVIDENCE_MAX else {}),
    }


def alert_post(post: Post, span: tuple[int, int] | None) -> dict[str, Any]:
    """An alert's `post` object: what identifies the post, and an excerpt around `span`."""
    return {
        "id": post.id,
        "source": post.source,
        "url": post.url,
        "created_at": isoformat(post.created),
        "observed_at": isoformat(observed) if (observed := post.observed) else None,
        "author": {"id": post.author.id, "handle": post.author.handle},
        "excerpt": excerpt(post.text, span),
    }


def build_summary(
    first: dict[str, Any],
    *,
    suppressed_count: int,
    suppressed_post_ids: Sequence[str],
    window_start: datetime,
    window_end: datetime,
    detected_at: datetime | None = None,
) -> dict[str, Any]:
    """The summary alert that closes a suppression window opened by the alert `first`.

    It repeats the first alert's rule, post and evidence, names that alert in `summary_of`,
    and counts every repeat collapsed into it; at most SUPPRESSED_IDS_MAX of their post ids
    are listed (the earliest ones). Its id is deterministic from the first alert's rule and
    post, so a summary sent again after a crash has the same id.
    """
    rule, post = first["rule"], first["post"]
    return {
        **first,
        "alert_id": alert_id(rule["id"], rule["version"], post["id"], "summary"),
        "kind": "summary",
        "detected_at": isoformat(detected_at or datetime.now(UTC)),
        "summary_of": first["alert_id"],
        "suppressed_count": suppressed_count,
        "suppressed_post_ids": list(suppressed_post_ids[:SUPPRESSED_IDS_MAX]),
        "window": {"start": isoformat(window_start), "end": isoformat(window_end)},
    }
