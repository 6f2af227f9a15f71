"""`postwatch alerts tail` on the real broker: filters, JSON lines, from the beginning,
from a moment, and from now."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from postwatch.settings import Settings
from tests.conftest import env_for, stop_process
from tests.integration.alerts.conftest import alerts_for, post, publish_alerts
from tests.terminal import HOSTILE, HOSTILE_TEXT, acting

NAMES = "Join the Sample Brigade"
LINK = "see https://example.org/a"


def tail(settings: Settings, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "postwatch", "alerts", "tail", "--json", *args],
        env=env_for(settings),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_tail_filters_from_the_beginning_and_since_a_moment(settings: Settings) -> None:
    early = alerts_for(
        post(1, NAMES),
        post(2, LINK, links=["https://example.org/a"]),
        {**post(3, NAMES), "source": "bluesky"},
    )
    # the early alerts are dated ten minutes back, so that the moment between the two sets
    # does not depend on how fast this machine is
    moment = datetime.now(UTC)
    publish_alerts(settings, early, timestamp_ms=int(moment.timestamp() * 1000) - 600_000)
    late = alerts_for(post(4, LINK, links=["https://example.org/b"]), post(5, NAMES))
    publish_alerts(settings, late)

    everything = tail(settings, "--from-beginning", "--limit", "5")
    assert sorted(a["alert_id"] for a in everything) == sorted(a["alert_id"] for a in early + late)
    high = tail(settings, "--from-beginning", "--min-severity", "high", "--limit", "3")
    assert sorted(a["post"]["id"] for a in high) == ["mastodon:1", "mastodon:3", "mastodon:5"]
    from_bluesky = tail(settings, "--from-beginning", "--source", "bluesky", "--limit", "1")
    assert [a["post"]["id"] for a in from_bluesky] == ["mastodon:3"]
    by_rule = tail(settings, "--from-beginning", "--rule", "it-domain", "--limit", "2")
    assert sorted(a["post"]["id"] for a in by_rule) == ["mastodon:2", "mastodon:4"]
    since = tail(settings, "--since", moment.isoformat(), "--limit", "2")
    assert sorted(a["post"]["id"] for a in since) == ["mastodon:4", "mastodon:5"]


def test_tail_from_now_shows_only_new_alerts_with_colours_and_links(settings: Settings) -> None:
    publish_alerts(settings, alerts_for(post(1, NAMES)))
    feed = subprocess.Popen(
        [sys.executable, "-m", "postwatch", "alerts", "tail", "--limit", "1"],
        env=env_for(settings, COLUMNS="160", FORCE_COLOR="1", TERM="xterm-256color"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert feed.stdout is not None
    try:
        output = b""
        deadline = time.monotonic() + 60
        n = 100
        # publish new alerts until the feed, started "from now", shows one
        while time.monotonic() < deadline and feed.poll() is None:
            n += 1
            publish_alerts(settings, alerts_for(post(n, NAMES)))
            ready, _, _ = select.select([feed.stdout], [], [], 1.0)
            if ready:
                output += os.read(feed.stdout.fileno(), 65536)
        output += feed.stdout.read()
        assert feed.wait(10) == 0
    finally:
        stop_process(feed)
    text = output.decode()
    assert "\x1b[" in text  # coloured
    assert "HIGH" in text
    assert "it-names" in text
    assert "mastodon.example/@x/" in text
    assert "mastodon:1 " not in text
    assert "@x/1\n" not in text  # the alert from before it started is not shown


def test_tail_names_a_missing_topic_and_creates_none(settings: Settings) -> None:
    wrong = env_for(settings, POSTWATCH_TOPIC_PREFIX=settings.topic_prefix + "-typo")
    for _ in range(2):  # the second time: still missing, looking for it did not create it
        result = subprocess.run(
            [sys.executable, "-m", "postwatch", "alerts", "tail"],
            env=wrong,
            capture_output=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 1
        assert f"there is no topic {settings.topic_prefix}-typo.alerts" in result.stderr.decode()


def test_tail_shows_hostile_text_without_obeying_it_and_reads_past_odd_records(
    settings: Settings,
) -> None:
    hostile = alerts_for(post(1, f"Join the Sample Brigade {HOSTILE_TEXT}"))[0]
    hostile["rule"]["title"] = HOSTILE["title"]
    hostile["post"]["author"]["handle"] = HOSTILE["clipboard"]
    hostile["post"]["url"] = f"https://mastodon.example/{HOSTILE['c1 csi']}"
    odd = {"alert_id": "odd", "rule": "it-names", "post": ["mastodon"], "evidence": "text"}
    publish_alerts(settings, [odd, hostile])
    env = env_for(settings, COLUMNS="200", FORCE_COLOR="1", TERM="xterm-256color")

    def run(*args: str) -> str:
        command = [sys.executable, "-m", "postwatch", "alerts", "tail", "--from-beginning"]
        done = subprocess.run(
            [*command, *args], env=env, capture_output=True, check=False, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    text = run("--limit", "2")
    assert "\x1b[" in text  # coloured
    assert acting(text) == []
    assert "@\\u001b]52;c;cHduZWQ=\\u0007" in text
    lines = run("--json", "--limit", "1", "--rule", "it-names")
    assert acting(lines) == []
    assert [json.loads(line) for line in lines.splitlines()] == [hostile]
