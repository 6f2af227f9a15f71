"""Alert v1 records built from matches (see the alert-v1 JSON Schema)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from postwatch.rules.model import Match, Status

__all__ = ["EXCERPT_MAX", "alert_id", "build_alert", "excerpt", "isoformat"]

EXCERPT_MAX = 280
_CONTEXT = 100


def alert_id(rule_id: str, rule_version: int, post_id: str) -> str:
    """Deterministic id: a redelivered post gives the same id, so consumers can drop repeats."""
    key = "\x1f".join((rule_id, str(rule_version), post_id)).encode("utf-8")
    return hashlib.sha256(key).hexdigest()[:32]


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
        "post": {
            "id": post.id,
            "source": post.source,
            "url": post.url,
            "created_at": isoformat(post.created_at),
            "observed_at": isoformat(post.observed_at) if post.observed_at else None,
            "author": {"id": post.author.id, "handle": post.author.handle},
            "excerpt": excerpt(post.text, first_span),
        },
        "evidence": [e.to_json() for e in match.evidence],
        "shadow": rule.status is Status.SHADOW,
    }
