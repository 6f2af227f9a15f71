"""The flood guard on the real broker, with two workers of one group: a burst of one rule
over its limit raises exactly one `rule_flood` alert, every later alert of that rule is
shadow on both workers and none is lost, another rule is unaffected, and `rules restore`
gives the rule back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from postwatch.settings import Settings
from tests.conftest import env_for, read_topic
from tests.integration.test_live_rules import post, send_posts

PACK = """
pack: flood
version: 1
rules:
  - id: storm-word
    title: A word that turned common
    severity: high
    match: {keywords: [storm]}
  - id: calm-word
    title: A word that did not
    severity: medium
    match: {keywords: [calm]}
"""
LIMIT = 5


def alerts_read(settings: Settings, count: int) -> list[dict[str, Any]]:
    records = asyncio.run(read_topic(settings, settings.topic("alerts"), count=count, wait=90))
    return [json.loads(r.value or b"") for r in records]


def restore(settings: Settings, rule_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "postwatch", "rules", "restore", rule_id],
        env=env_for(settings, POSTWATCH_PUBLISHED_BY="on-call"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_rule_over_its_limit_is_shadowed_on_every_worker_until_restored(
    settings: Settings, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    pack = tmp_path / "flood.yaml"
    pack.write_text(PACK)
    workers = [start_worker(pack, flood_alerts_per_minute=str(LIMIT)) for _ in range(2)]
    time.sleep(10)  # both workers in the group, the partitions shared between them
    burst = [(0, post(f"s{n}", f"storm {n}")) for n in range(20)]
    calm = [(0, post(f"c{n}", "calm")) for n in range(3)]
    asyncio.run(send_posts(settings, burst + calm))
    seen = alerts_read(settings, 20 + 3 + 1)

    storm = {
        a["post"]["id"]: a for a in seen if a["kind"] == "rule" and a["rule"]["id"] == "storm-word"
    }
    assert sorted(storm) == sorted(f"test:s{n}" for n in range(20))  # none lost
    assert len([a for a in seen if a["rule"]["id"] == "storm-word" and a["kind"] == "rule"]) == 20
    # the first LIMIT + 1 alerts (the last of them took the rule over) went out live
    assert [storm[f"test:s{n}"]["shadow"] for n in range(20)] == [False] * 6 + [True] * 14
    [flood] = [a for a in seen if a["kind"] == "rule_flood"]
    assert flood["rule"]["id"] == "storm-word"
    assert (flood["flood_count"], flood["flood_limit"]) == (LIMIT + 1, LIMIT)
    assert flood["post"]["id"] == "test:s5"
    assert [a["shadow"] for a in seen if a["rule"]["id"] == "calm-word"] == [False] * 3
    floods = asyncio.run(read_topic(settings, settings.topic("rules.flood"), count=1, wait=30))
    assert [(r.key, json.loads(r.value or b"")["state"]) for r in floods] == [
        (b"storm-word", "flooded")
    ]

    # every partition, so both workers: the rule is shadow on the one that did not trip too
    everywhere = [(p, post(f"e{p}", "storm again")) for p in range(settings.posts_partitions)]
    asyncio.run(send_posts(settings, everywhere))
    seen = alerts_read(settings, 24 + len(everywhere))
    again = [a for a in seen if a["post"]["id"].startswith("test:e")]
    assert sorted(a["post"]["id"] for a in again) == sorted(f"test:e{p}" for p, _ in everywhere)
    assert all(a["shadow"] for a in again)
    assert len([a for a in seen if a["kind"] == "rule_flood"]) == 1

    not_flooded = restore(settings, "calm-word")
    assert not_flooded.returncode == 1
    assert "rule calm-word is not shadowed by the flood guard (shadowed now: storm-word)" in (
        not_flooded.stderr
    )
    restored = restore(settings, "storm-word")
    assert restored.returncode == 0, restored.stderr
    print(restored.stdout)
    assert "restored rule storm-word (pack flood)" in restored.stdout
    assert f"for {LIMIT + 1} alerts in a minute (limit {LIMIT})" in restored.stdout
    time.sleep(3)  # the workers follow the flood topic within a poll
    back = [(p, post(f"r{p}", "storm once more")) for p in range(settings.posts_partitions)]
    asyncio.run(send_posts(settings, back))
    seen = alerts_read(settings, 24 + 2 * len(back))
    after = [a for a in seen if a["post"]["id"].startswith("test:r")]
    assert len(after) == len(back)
    assert not any(a["shadow"] for a in after)
    assert len([a for a in seen if a["kind"] == "rule_flood"]) == 1
    floods = asyncio.run(read_topic(settings, settings.topic("rules.flood"), count=2, wait=30))
    last = json.loads(floods[-1].value or b"")
    assert (last["state"], last["by"]) == ("restored", "on-call")
    assert all(w.poll() is None for w in workers)
    assert restore(settings, "storm-word").returncode == 1  # given back already
