"""Alert v1 rendered as an OCSF Detection Finding (class_uid 2004), for SOC tooling that
takes OCSF as it is.

The mapping: the rule is the finding's analytic, the post is its affected resource, each
piece of evidence is an evidence artifact, the author and the post URL are observables, and
what OCSF has no attribute for (the alert kind, shadow status, suppressed post ids) goes in
`unmapped.postwatch`. A summary alert becomes a finding whose `count` is the first alert plus
its repeats and whose start and end times are the suppression window; a `rule_flood` alert
one whose `count` is the alerts its rule raised in the window it was counted over, with the
limit in `unmapped.postwatch.flood_limit`.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import metadata
from typing import Any

import msgspec

from postwatch.rules.alerts import Alert
from postwatch.rules.language.model import Evidence

__all__ = ["OCSF_VERSION", "detection_finding"]

OCSF_VERSION = "1.5.0"
_SEVERITY = {
    "info": (1, "Informational"),
    "low": (2, "Low"),
    "medium": (3, "Medium"),
    "high": (4, "High"),
    "critical": (5, "Critical"),
}
_CREATE = 1
_CLASS_UID = 2004
_FINDINGS = 2
_STATUS_NEW = 1
_ANALYTIC_RULE = 1
_OBSERVABLE_URL_STRING = 6
_OBSERVABLE_OTHER = 99


@cache
def _product_version() -> str:
    return metadata.version("postwatch")


def _ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp() * 1000)


def _json(evidence: Evidence) -> dict[str, Any]:
    """The evidence as JSON holds it (lists, not tuples)."""
    out: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(evidence))
    return out


def detection_finding(alert: Alert) -> dict[str, Any]:
    """The OCSF Detection Finding for one alert."""
    rule, post = alert.rule, alert.post
    author = post.author
    severity_id, severity = _SEVERITY[rule.severity]
    detected = _ms(alert.detected_at)
    finding: dict[str, Any] = {
        "activity_id": _CREATE,
        "activity_name": "Create",
        "category_uid": _FINDINGS,
        "category_name": "Findings",
        "class_uid": _CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": _CLASS_UID * 100 + _CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": _STATUS_NEW,
        "status": "New",
        "time": detected,
        "message": rule.title,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": alert.alert_id,
            "correlation_uid": alert.summary_of or alert.alert_id,
            "labels": list(rule.tags),
            "product": {
                "name": "postwatch",
                "vendor_name": "postwatch",
                "version": _product_version(),
            },
        },
        "finding_info": {
            "uid": alert.alert_id,
            "title": rule.title,
            "types": [alert.kind],
            "created_time": detected,
            "first_seen_time": _ms(post.created_at),
            "data_sources": [post.source],
            "analytic": {
                "uid": rule.id,
                "name": rule.title,
                "type_id": _ANALYTIC_RULE,
                "type": "Rule",
                "version": str(rule.version),
                "category": rule.pack,
            },
        },
        "resources": [
            {
                "uid": post.id,
                "type": "post",
                "labels": [post.source],
                "data": {
                    "url": post.url,
                    "created_at": post.created_at,
                    "author": {"id": author.id, "handle": author.handle},
                    "excerpt": post.excerpt,
                },
            }
        ],
        "evidences": [
            {"name": f"{item.type} in {item.field}", "data": _json(item)} for item in alert.evidence
        ],
        "observables": [
            {
                "name": "resources[0].data.author.id",
                "type_id": _OBSERVABLE_OTHER,
                "type": "Other",
                "value": author.id,
            }
        ],
        "unmapped": {"postwatch": {"kind": alert.kind, "shadow": alert.shadow}},
    }
    if post.url:
        finding["finding_info"]["src_url"] = post.url
        finding["observables"].append(
            {
                "name": "resources[0].data.url",
                "type_id": _OBSERVABLE_URL_STRING,
                "type": "URL String",
                "value": post.url,
            }
        )
    if alert.kind == "summary" and alert.window is not None:
        finding["count"] = 1 + (alert.suppressed_count or 0)
        finding["start_time"] = _ms(alert.window.start)
        finding["end_time"] = _ms(alert.window.end)
        finding["unmapped"]["postwatch"]["suppressed_post_ids"] = list(
            alert.suppressed_post_ids or ()
        )
    elif alert.kind == "rule_flood" and alert.window is not None:
        finding["count"] = alert.flood_count
        finding["start_time"] = _ms(alert.window.start)
        finding["end_time"] = _ms(alert.window.end)
        finding["unmapped"]["postwatch"]["flood_limit"] = alert.flood_limit
    return finding
