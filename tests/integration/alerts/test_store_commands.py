"""The alert store on the real broker: `follow` rebuilding it while alerts stream in, with
records that are no alerts and decisions that come before their alerts; and the commands
built on it (`alerts search`, `rules stats`, `cases export`) on the recorded alerts
(tests/recorded_alerts.py), run as processes, their output checked whole."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from postwatch.alerts.store import AlertStore, Query, follow
from postwatch.kafka.topics import ensure_topics
from postwatch.rules.alerts import encode
from postwatch.settings import Settings
from tests.conftest import env_for
from tests.integration.alerts.conftest import produce_once
from tests.recorded_alerts import ALERTS, DECISIONS, H1, VERDICTS, by_n

pytestmark = pytest.mark.broker


def publish_recorded(settings: Settings) -> None:
    """The recorded alerts on the alerts topic (the first ones twice: a redelivery), the
    decisions on the decisions topic."""
    asyncio.run(ensure_topics(settings, live=True))
    alerts = [(a.alert_id.encode(), encode(a)) for a in ALERTS + ALERTS[:2]]
    produce_once(settings, settings.topic("alerts"), alerts)
    decisions = [(d.alert_id.encode(), d.encode()) for d in DECISIONS]
    produce_once(settings, settings.topic("decisions"), decisions)


def postwatch(
    settings: Settings, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "postwatch", *args],
        env=env_for(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def search(settings: Settings, *args: str) -> list[dict[str, Any]]:
    output = postwatch(settings, "alerts", "search", "--json", *args).stdout
    return [json.loads(line) for line in output.splitlines()]


def test_follow_rebuilds_while_alerts_stream_in_and_skips_what_is_no_alert(
    settings: Settings,
) -> None:
    asyncio.run(ensure_topics(settings, live=True))
    # decisions first, then a record that is no decision; alerts: the first half, junk
    decisions = [(d.alert_id.encode(), d.encode()) for d in DECISIONS]
    produce_once(settings, settings.topic("decisions"), [*decisions, (b"x", b"{}")])
    first = [(a.alert_id.encode(), encode(a)) for a in ALERTS[:4]]
    produce_once(settings, settings.topic("alerts"), [*first, (b"junk", b"not json")])

    async def run() -> tuple[list[str], list[str], dict[str, str | None]]:
        store = AlertStore()
        ready = asyncio.Event()
        task = asyncio.create_task(follow(settings, store, ready))
        await asyncio.wait_for(ready.wait(), 60)
        at_ready = [s.alert.alert_id for s in store.search(Query())]
        # the rest arrive while it follows, one of them again
        rest = [(a.alert_id.encode(), encode(a)) for a in [*ALERTS[4:], ALERTS[0]]]
        await asyncio.to_thread(produce_once, settings, settings.topic("alerts"), rest)
        for _ in range(300):
            if store.count == len(ALERTS):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # time for a duplicate to show, were it kept
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        everything = store.search(Query())
        return (
            at_ready,
            [s.alert.alert_id for s in everything],
            {s.alert.alert_id: s.verdict for s in everything},
        )

    at_ready, everything, verdicts = asyncio.run(run())
    assert at_ready == by_n(4, 3, 2, 1)
    assert everything == by_n(8, 7, 6, 5, 4, 3, 2, 1)
    assert verdicts == {ALERTS[n - 1].alert_id: VERDICTS.get(n) for n in range(1, 9)}


def test_follow_names_a_missing_alerts_topic(settings: Settings) -> None:
    result = postwatch(
        Settings(
            kafka_bootstrap=settings.kafka_bootstrap, topic_prefix=settings.topic_prefix + "-none"
        ),
        "alerts",
        "search",
        check=False,
    )
    assert result.returncode == 1
    assert f"no topic {settings.topic_prefix}-none.alerts" in result.stderr


def test_alerts_search(settings: Settings) -> None:
    publish_recorded(settings)
    every = search(settings)
    assert [a["alert_id"] for a in every] == by_n(8, 7, 6, 5, 4, 3, 2, 1)
    assert [a["verdict"] for a in every] == [
        None,
        None,
        None,
        "false_positive",
        "escalate",
        "false_positive",
        "confirm",
        "confirm",
    ]
    # each line is the Alert v1 as published, with its verdict
    assert {k: v for k, v in every[-1].items() if k != "verdict"} == json.loads(encode(ALERTS[0]))
    assert [a["alert_id"] for a in search(settings, "--author", "mastodon:alice")] == by_n(8, 2, 1)
    assert [a["alert_id"] for a in search(settings, "--hash", H1.upper())] == by_n(3, 2)
    assert [a["alert_id"] for a in search(settings, "--verdict", "undecided")] == by_n(8, 7, 6)
    assert [
        a["alert_id"] for a in search(settings, "--rule", "pw-media", "--source", "bluesky")
    ] == by_n(4)
    assert [a["alert_id"] for a in search(settings, "--domain", "example.org")] == by_n(5)
    assert [a["alert_id"] for a in search(settings, "--kind", "reappearance")] == by_n(7)
    assert [a["alert_id"] for a in search(settings, "--since", "2026-11-02T10:00:00Z")] == by_n(
        8, 7, 6, 5
    )
    assert [a["alert_id"] for a in search(settings, "--limit", "2")] == by_n(8, 7)
    assert search(settings, "--since", "1h") == []
    table = postwatch(settings, "alerts", "search", "--author", "mastodon:bob").stdout
    assert table.splitlines() == [
        f"2026-11-03T01:00:00.000Z  high      reappearance/text/{'d' * 32}  undecided       "
        f"mastodon:bob (@bob)  https://mastodon.example/@bob/7  {by_n(7)[0]}",
        "2026-11-02T11:00:00.000Z  low       pw-domain  false_positive  "
        f"mastodon:bob (@bob)  https://mastodon.example/@bob/5  {by_n(5)[0]}",
        "2026-11-01T19:00:00.000Z  critical  pw-media  false_positive  "
        f"mastodon:bob (@bob)  https://mastodon.example/@bob/3  {by_n(3)[0]}",
    ]
    bad = postwatch(settings, "alerts", "search", "--since", "yesterday", check=False)
    assert bad.returncode == 2
    assert "--since 'yesterday': give a duration" in bad.stderr


def test_rules_stats(settings: Settings) -> None:
    publish_recorded(settings)
    table = postwatch(settings, "rules", "stats").stdout
    h1, p = f"  known-media/{H1}", f"  known-media/{'b' * 64}"
    width = len(h1)
    assert table.splitlines() == [
        "RULE / BANK ENTRY".ljust(width)
        + "  ALERTS  PER DAY  DECIDED  PRECISION  CONFIRM  FP  ESC",
        "pw-domain".ljust(width) + "       1     0.50     100%         0%        0   1    0",
        "pw-media".ljust(width) + "       3     1.50      67%        50%        1   1    1",
        h1 + "       2     1.00     100%        50%        1   1    0",
        p + "       1     0.50       0%          -        0   0    1",
        "pw-names".ljust(width) + "       3     1.50      33%       100%        1   0    0",
        f"reappearance/text/{'d' * 32}".ljust(width)
        + "       1     0.50       0%          -        0   0    0",
    ]
    rows = [
        json.loads(line)
        for line in postwatch(
            settings, "rules", "stats", "--json", "--since", "2026-11-02T10:00:00Z"
        ).stdout.splitlines()
    ]
    assert rows == [
        {
            "rule": "pw-domain",
            "entry": None,
            "alerts": 1,
            "per_day": 1.0,
            "decided": 1,
            "decided_share": 1.0,
            "precision": 0.0,
            "confirmed": 0,
            "false_positives": 1,
            "escalated": 0,
        },
        {
            "rule": "pw-names",
            "entry": None,
            "alerts": 2,
            "per_day": 2.0,
            "decided": 0,
            "decided_share": 0.0,
            "precision": None,
            "confirmed": 0,
            "false_positives": 0,
            "escalated": 0,
        },
        {
            "rule": f"reappearance/text/{'d' * 32}",
            "entry": None,
            "alerts": 1,
            "per_day": 1.0,
            "decided": 0,
            "decided_share": 0.0,
            "precision": None,
            "confirmed": 0,
            "false_positives": 0,
            "escalated": 0,
        },
    ]
    empty = postwatch(settings, "rules", "stats", "--since", "1h")
    assert (empty.stdout, empty.stderr.splitlines()[-1]) == ("", "no alerts since 1h")


def test_cases_export(settings: Settings, tmp_path: Path) -> None:
    publish_recorded(settings)
    out = tmp_path / "case"
    result = postwatch(
        settings,
        "cases",
        "export",
        "--author",
        "mastodon:alice",
        "--author",
        "nobody:x",
        "--out",
        str(out),
    )
    assert result.stdout == (
        f"3 alert(s) of 1 account(s) written to {out}: case.json, accounts.csv, alerts.csv, "
        "decisions.csv, media.csv, manifest.json\n"
    )
    assert "warning: no alerts on posts of nobody:x" in result.stderr
    case = json.loads((out / "case.json").read_bytes())
    assert [(a["alert_id"], a["verdict"]) for a in case["alerts"]] == list(
        zip(by_n(1, 2, 8), ["confirm", "confirm", None], strict=True)
    )
    assert [(d["verdict"], d["user"]) for d in case["alerts"][2]["decisions"]] == [("note", "sam")]
    assert case["media_hashes"] == [
        {"type": "sha256", "hash": H1, "bank": "known-media", "bank_hash": H1, "alert_ids": by_n(2)}
    ]
    decisions = (out / "decisions.csv").read_text(encoding="utf-8").splitlines()
    assert decisions[0] == "alert_id,decision_id,verdict,user,decided_at,note"
    assert [line.split(",")[2:] for line in decisions[1:]] == [
        ["confirm", "rita", "2026-11-03T11:00:00.000Z", "listed organisation"],
        ["confirm", "rita", "2026-11-03T12:00:00.000Z", ""],
        ["note", "sam", "2026-11-03T18:00:00.000Z", "look again tomorrow"],
    ]
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        name: hashlib.sha256((out / name).read_bytes()).hexdigest()
        for name in ("case.json", "accounts.csv", "alerts.csv", "decisions.csv", "media.csv")
    }

    again = postwatch(
        settings, "cases", "export", "--author", "mastodon:alice", "--out", str(out), check=False
    )
    assert again.returncode == 2
    assert f"--out {out} is not empty" in again.stderr
    nobody = postwatch(
        settings,
        "cases",
        "export",
        "--author",
        "nobody:x",
        "--out",
        str(tmp_path / "n"),
        check=False,
    )
    assert nobody.returncode == 1
    assert "Error: no alerts on posts of nobody:x" in nobody.stderr
    assert not (tmp_path / "n").exists()
