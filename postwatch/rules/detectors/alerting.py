"""The alerts the detectors raise: Alert v1 of their own kind, under a rule of their own
(`rule.pack` is `postwatch.mirror`: no pack's rule raised them), severity high."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postwatch.rules.alerts import alert_id, alert_post, isoformat
from postwatch.rules.language.model import Post, Severity

__all__ = ["MIRROR_PACK", "detector_alert"]

MIRROR_PACK = "postwatch.mirror"


def detector_alert(
    kind: str,
    post: Post,
    now: datetime,
    *,
    rule_id: str,
    title: str,
    evidence: list[dict[str, Any]],
) -> dict[str, Any]:
    """The alert of `kind` that `post` raises, its id deterministic from rule and post."""
    return {
        "schema": "postwatch.alert/1",
        "alert_id": alert_id(rule_id, 1, post.id, kind),
        "kind": kind,
        "detected_at": isoformat(now),
        "rule": {
            "id": rule_id,
            "version": 1,
            "pack": MIRROR_PACK,
            "title": title,
            "severity": Severity.HIGH.label,
            "tags": [kind],
        },
        "post": alert_post(post, None),
        "evidence": evidence,
        "shadow": False,
    }
