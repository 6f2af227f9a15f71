"""Referral export: the evidence bundle of a takedown request about some accounts, from the
alert store.

Only what the alerts and decisions hold goes in: the accounts (ids, handles, sources, when
their alerts were raised), each alert with its rule, time, post URL, excerpt and evidence,
the decisions on it with their reviewers, and the media hashes its evidence names. Nothing
is fetched, and nothing is added about the people behind the accounts.

The bundle is a folder:

- `case.json`: all of it, the alerts as Alert v1 with their verdict and decisions;
- `accounts.csv`, `alerts.csv`, `decisions.csv`, `media.csv`: the same as tables (a cell
  that begins with `=`, `+`, `-`, `@` or a control character is prefixed with `'`, so that
  a spreadsheet shows a post's text rather than running it; `case.json` holds it as it is);
- `manifest.json`: each file's size and SHA-256, so that the recipient can check that
  nothing changed on the way (`sha256sum` gives the same digests).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from postwatch.alerts import AlertsError
from postwatch.alerts.store import HASH_TYPES, AlertStore, Query, Stored
from postwatch.rules.alerts import isoformat

__all__ = ["CASE_SCHEMA", "FILES", "CaseError", "Exported", "NoAlerts", "export_case"]

CASE_SCHEMA = "postwatch.case/1"
FILES = ("case.json", "accounts.csv", "alerts.csv", "decisions.csv", "media.csv")
"""The bundle's files, in the manifest's order (the manifest itself aside)."""
_RISKY = ("=", "+", "-", "@", "\t", "\r", "\n")


class CaseError(AlertsError):
    """A bundle that cannot be made: where it would go is taken or cannot be written."""


class NoAlerts(CaseError):
    """None of the accounts has an alert (since the moment asked)."""


@dataclass(frozen=True, slots=True)
class Exported:
    """What a bundle holds: its folder, the alerts and accounts in it, the authors asked for
    that have no alert, and each file's SHA-256."""

    folder: Path
    alerts: int
    accounts: int
    missing: tuple[str, ...]
    digests: dict[str, str]


def export_case(
    store: AlertStore,
    authors: Sequence[str],
    out: Path,
    since: datetime | None = None,
    now: datetime | None = None,
) -> Exported:
    """Write the bundle of the alerts on these authors' posts (since `since`) to the folder
    `out`, which must not exist or be empty. Raises NoAlerts, CaseError."""
    wanted = list(dict.fromkeys(a.strip() for a in authors if a.strip()))
    if not wanted:
        raise CaseError("name at least one author id")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CaseError(f"{out} exists and is not an empty folder: give a new one")
    found = {
        author: store.search(Query(author=author, since=since, limit=max(store.count, 1)))
        for author in wanted
    }
    stored = sorted(
        (s for alerts in found.values() for s in alerts),
        key=lambda s: (s.alert.detected_at, s.alert.alert_id),
    )
    moment = f" since {isoformat(since)}" if since else ""
    if not stored:
        raise NoAlerts(f"no alerts on posts of {', '.join(wanted)}{moment}")
    missing = tuple(author for author, alerts in found.items() if not alerts)
    case = _case(stored, wanted, missing, since, now or datetime.now(UTC))
    contents = {
        "case.json": orjson.dumps(case, option=orjson.OPT_INDENT_2) + b"\n",
        "accounts.csv": _csv(
            ["author_id", "handles", "source", "alerts", "first_alert", "last_alert"],
            [
                [
                    a["id"],
                    " ".join(a["handles"]),
                    a["source"],
                    a["alerts"],
                    a["first_alert"],
                    a["last_alert"],
                ]
                for a in case["accounts"]
            ],
        ),
        "alerts.csv": _csv(_ALERT_COLUMNS, [_alert_row(s) for s in stored]),
        "decisions.csv": _csv(
            ["alert_id", "decision_id", "verdict", "user", "decided_at", "note"],
            [
                [d.alert_id, d.decision_id, d.verdict, d.user, d.decided_at, d.note]
                for s in stored
                for d in s.decisions
            ],
        ),
        "media.csv": _csv(
            ["type", "hash", "bank", "bank_hash", "alert_ids"],
            [
                [m["type"], m["hash"], m["bank"] or "", m["bank_hash"], " ".join(m["alert_ids"])]
                for m in case["media_hashes"]
            ],
        ),
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            (out / name).write_bytes(contents[name])
        digests = {name: hashlib.sha256(contents[name]).hexdigest() for name in FILES}
        manifest = {
            "schema": CASE_SCHEMA,
            "generated_at": case["generated_at"],
            "files": [
                {"name": name, "bytes": len(contents[name]), "sha256": digests[name]}
                for name in FILES
            ],
        }
        (out / "manifest.json").write_bytes(
            orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
        )
    except OSError as exc:
        raise CaseError(f"cannot write the bundle to {out}: {exc.strerror or exc}") from exc
    return Exported(out, len(stored), len(case["accounts"]), missing, digests)


def _case(
    stored: list[Stored],
    wanted: list[str],
    missing: tuple[str, ...],
    since: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The whole bundle as one JSON document."""
    accounts: dict[str, dict[str, Any]] = {}
    media: dict[tuple[str, str, str | None, str], list[str]] = {}
    for s in stored:
        alert = s.alert
        author = alert.post.author
        account = accounts.setdefault(
            author.id,
            {
                "id": author.id,
                "handles": [],
                "source": alert.post.source,
                "alerts": 0,
                "first_alert": alert.detected_at,
                "last_alert": alert.detected_at,
            },
        )
        if author.handle and author.handle not in account["handles"]:
            account["handles"].append(author.handle)
        account["alerts"] += 1
        account["last_alert"] = alert.detected_at
        for e in alert.evidence:
            if e.type in HASH_TYPES:
                key = (e.type, (e.matched or e.value).lower(), e.bank, e.value.lower())
                ids = media.setdefault(key, [])
                if alert.alert_id not in ids:
                    ids.append(alert.alert_id)
    return {
        "schema": CASE_SCHEMA,
        "generated_at": isoformat(now),
        "authors": wanted,
        "authors_without_alerts": list(missing),
        "since": isoformat(since) if since else None,
        "accounts": list(accounts.values()),
        "alerts": [
            s.document() | {"decisions": [_decision(d) for d in s.decisions]} for s in stored
        ],
        "media_hashes": [
            {"type": t, "hash": h, "bank": bank, "bank_hash": bank_hash, "alert_ids": ids}
            for (t, h, bank, bank_hash), ids in sorted(media.items(), key=lambda i: i[0][:2])
        ],
    }


def _decision(decision: Any) -> dict[str, Any]:
    """A decision as the bundle lists it: the alert it decides is the one it is listed in."""
    return {
        "decision_id": decision.decision_id,
        "verdict": decision.verdict,
        "user": decision.user,
        "decided_at": decision.decided_at,
        "note": decision.note,
    }


_ALERT_COLUMNS = [
    "alert_id",
    "detected_at",
    "kind",
    "rule_id",
    "rule_version",
    "rule_pack",
    "rule_title",
    "severity",
    "author_id",
    "author_handle",
    "source",
    "post_id",
    "post_url",
    "post_created_at",
    "excerpt",
    "evidence",
    "verdict",
]


def _alert_row(stored: Stored) -> list[object]:
    alert, rule, post = stored.alert, stored.alert.rule, stored.alert.post
    evidence = "; ".join(
        f"{e.type} {e.field}: {e.matched or e.value}"
        + (f" (bank {e.bank}: {e.value})" if e.bank else "")
        + (f" (original post {e.original_post_id})" if e.original_post_id else "")
        for e in alert.evidence
    )
    return [
        alert.alert_id,
        alert.detected_at,
        alert.kind,
        rule.id,
        rule.version,
        rule.pack,
        rule.title,
        rule.severity,
        post.author.id,
        post.author.handle or "",
        post.source,
        post.id,
        post.url or "",
        post.created_at,
        post.excerpt,
        evidence,
        stored.verdict or "undecided",
    ]


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    """UTF-8 CSV; text a spreadsheet would take for a formula is prefixed with `'`."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(_safe(cell) for cell in row)
    return text.getvalue().encode("utf-8")


def _safe(cell: object) -> object:
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(_RISKY) else cell
