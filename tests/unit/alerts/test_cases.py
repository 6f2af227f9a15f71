"""The referral bundle on the recorded alerts: what goes in (only what the alerts hold),
its tables, digests that match the files, cells a spreadsheet would run, and clear errors."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from postwatch.alerts.cases import FILES, CaseError, NoAlerts, export_case
from postwatch.alerts.store import AlertStore
from postwatch.rules.alerts import encode
from tests.recorded_alerts import ALERTS, DECISIONS, H1, START, by_n

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> AlertStore:
    store = AlertStore()
    store.add(ALERTS)
    store.decide(DECISIONS)
    return store


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_the_bundle_of_one_account(store: AlertStore, tmp_path: Path) -> None:
    out = tmp_path / "case"
    exported = export_case(store, ["mastodon:bob", "nobody:x"], out, now=NOW)
    assert (exported.alerts, exported.accounts, exported.missing) == (3, 1, ("nobody:x",))
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "manifest.json"])
    case = json.loads((out / "case.json").read_bytes())
    assert case["schema"] == "postwatch.case/1"
    assert case["generated_at"] == "2026-12-01T12:00:00.000Z"
    assert (case["authors"], case["authors_without_alerts"]) == (
        ["mastodon:bob", "nobody:x"],
        ["nobody:x"],
    )
    assert case["accounts"] == [
        {
            "id": "mastodon:bob",
            "handles": ["bob"],
            "source": "mastodon",
            "alerts": 3,
            "first_alert": "2026-11-01T19:00:00.000Z",
            "last_alert": "2026-11-03T01:00:00.000Z",
        }
    ]
    # oldest first, each the Alert v1 with its verdict and decisions (reviewers included)
    three, five, seven = case["alerts"]
    assert [a["alert_id"] for a in case["alerts"]] == by_n(3, 5, 7)
    assert {k: v for k, v in three.items() if k not in ("verdict", "decisions")} == json.loads(
        encode(ALERTS[2])
    )
    assert (three["verdict"], five["verdict"], seven["verdict"]) == (
        "false_positive",
        "false_positive",
        None,
    )
    assert [(d["verdict"], d["user"], d["note"]) for d in five["decisions"]] == [
        ("confirm", "rita", ""),
        ("false_positive", "sam", "a news site quoting it"),
    ]
    assert case["media_hashes"] == [
        {
            "type": "sha256",
            "hash": H1,
            "bank": "known-media",
            "bank_hash": H1,
            "alert_ids": by_n(3),
        }
    ]
    assert [r["alert_id"] for r in rows(out / "alerts.csv")] == by_n(3, 5, 7)
    first = rows(out / "alerts.csv")[0]
    assert first == {
        "alert_id": by_n(3)[0],
        "detected_at": "2026-11-01T19:00:00.000Z",
        "kind": "rule",
        "rule_id": "pw-media",
        "rule_version": "1",
        "rule_pack": "demo",
        "rule_title": "Known media",
        "severity": "critical",
        "author_id": "mastodon:bob",
        "author_handle": "bob",
        "source": "mastodon",
        "post_id": "mastodon:3",
        "post_url": "https://mastodon.example/@bob/3",
        "post_created_at": "2026-11-01T18:00:00.000Z",
        "excerpt": "post 3",
        "evidence": f"sha256 media[0]: {H1} (bank known-media: {H1.upper()})",
        "verdict": "false_positive",
    }
    assert rows(out / "decisions.csv") == [
        {
            "alert_id": d.alert_id,
            "decision_id": d.decision_id,
            "verdict": d.verdict,
            "user": d.user,
            "decided_at": d.decided_at,
            "note": d.note,
        }
        for d in DECISIONS
        if d.alert_id in by_n(3, 5, 7)
    ]
    assert rows(out / "accounts.csv") == [
        {
            "author_id": "mastodon:bob",
            "handles": "bob",
            "source": "mastodon",
            "alerts": "3",
            "first_alert": "2026-11-01T19:00:00.000Z",
            "last_alert": "2026-11-03T01:00:00.000Z",
        }
    ]
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert [f["name"] for f in manifest["files"]] == list(FILES)
    for listed in manifest["files"]:
        data = (out / listed["name"]).read_bytes()
        assert listed == {
            "name": listed["name"],
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        assert exported.digests[listed["name"]] == listed["sha256"]


def test_since_and_several_accounts(store: AlertStore, tmp_path: Path) -> None:
    exported = export_case(
        store,
        ["mastodon:alice", "bluesky:did:plc:carol", "mastodon:alice"],
        tmp_path / "case",
        since=START + timedelta(hours=15),
        now=NOW,
    )
    case = json.loads((tmp_path / "case" / "case.json").read_bytes())
    assert [a["alert_id"] for a in case["alerts"]] == by_n(4, 6, 8)
    assert [a["id"] for a in case["accounts"]] == ["bluesky:did:plc:carol", "mastodon:alice"]
    assert case["since"] == "2026-11-02T00:00:00.000Z"
    assert [(m["type"], m["hash"], m["bank_hash"]) for m in case["media_hashes"]] == [
        ("pdq", "c" * 64, "b" * 64)
    ]
    assert (exported.alerts, exported.accounts, exported.missing) == (3, 2, ())


def test_cells_a_spreadsheet_would_run_are_quoted_in_csv_only(tmp_path: Path) -> None:
    store = AlertStore()
    hostile = '=HYPERLINK("http://attacker.example","click")'
    alert = ALERTS[0]
    alert = msgspec.structs.replace(
        alert, post=msgspec.structs.replace(alert.post, excerpt=hostile)
    )
    store.add([alert])
    export_case(store, ["mastodon:alice"], tmp_path / "case", now=NOW)
    assert rows(tmp_path / "case" / "alerts.csv")[0]["excerpt"] == "'" + hostile
    case = json.loads((tmp_path / "case" / "case.json").read_bytes())
    assert case["alerts"][0]["post"]["excerpt"] == hostile


def test_clear_errors(store: AlertStore, tmp_path: Path) -> None:
    with pytest.raises(NoAlerts, match="no alerts on posts of nobody:x, nobody:y"):
        export_case(store, ["nobody:x", "nobody:y"], tmp_path / "a")
    with pytest.raises(NoAlerts, match=r"since 2026-12-01T00:00:00\.000Z"):
        export_case(
            store, ["mastodon:bob"], tmp_path / "a", since=datetime(2026, 12, 1, tzinfo=UTC)
        )
    assert not (tmp_path / "a").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "earlier.json").write_text("{}")
    with pytest.raises(CaseError, match="not an empty folder"):
        export_case(store, ["mastodon:bob"], tmp_path / "full")
    (tmp_path / "file").write_text("")
    with pytest.raises(CaseError, match="not an empty folder"):
        export_case(store, ["mastodon:bob"], tmp_path / "file")
    with pytest.raises(CaseError, match="at least one author"):
        export_case(store, [" "], tmp_path / "b")
    (tmp_path / "empty").mkdir()
    assert export_case(store, ["mastodon:bob"], tmp_path / "empty").alerts == 3
