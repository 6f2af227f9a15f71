"""`postwatch alerts serve` end to end in a real browser: Debian's chromium, driven by
Playwright, opens the feed with its token; alerts published to the topic appear on the open
page with their evidence highlighted and a link to the post; the filters hide what they
should; the page loads nothing from anywhere but the feed's own server."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from postwatch.demo import DEMO_PACK, DEMO_POSTS
from postwatch.rules import Engine, load_packs, parse_post
from postwatch.settings import Settings
from tests.conftest import env_for, stop_process
from tests.integration.alerts.conftest import free_port, publish_alerts
from tests.unit.conftest import alert_doc, summary_doc

TOKEN = "ops-room-token"  # noqa: S105 - the test server's own token
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these chromium reaches out to Google services, which this network refuses
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    assert shutil.which(CHROMIUM), "chromium is not installed (Debian: apt-get install chromium)"


def demo_alerts() -> list[dict[str, Any]]:
    engine = Engine(load_packs([DEMO_PACK]))
    alerts: dict[str, dict[str, Any]] = {}
    with DEMO_POSTS.open("rb") as lines:
        for line in lines:
            for match in engine.evaluate(parse_post(line)):
                alert = alert_doc(match)
                alerts[alert["alert_id"]] = alert
    return list(alerts.values())


@contextmanager
def serving(settings: Settings, log: Path, *args: str) -> Iterator[str]:
    """A running `postwatch alerts serve` with these options; yields its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "postwatch",
            "alerts",
            "serve",
            "--port",
            str(port),
            "--from-beginning",
            *args,
        ],
        env=env_for(settings, POSTWATCH_ALERTS_TOKEN=TOKEN),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2)  # noqa: S310 - a local http URL
        except urllib.error.HTTPError:
            break  # it answers (with 401: no token)
        except OSError:
            time.sleep(0.2)
    try:
        yield base
    finally:
        assert stop_process(server) == 0


@pytest.fixture
def feed(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """A running `postwatch alerts serve`; yields its base URL."""
    with serving(settings, tmp_path / "serve.log") as base:
        yield base


def publish(settings: Settings, alerts: list[dict[str, Any]]) -> None:
    """Publish from another thread: Playwright's sync API keeps an event loop on this one."""
    worker = threading.Thread(target=publish_alerts, args=(settings, alerts))
    worker.start()
    worker.join(60)


def visible(page: Page) -> list[str]:
    """The alert ids of the alerts the page shows, top first."""
    ids: list[str] = page.eval_on_selector_all(
        "li.alert:not([hidden])", "items => items.map(i => i.dataset.alertId)"
    )
    return ids


@pytest.mark.timeout(180)
def test_alerts_appear_live_and_the_filters_hide_what_they_should(
    settings: Settings, feed: str, tmp_path: Path
) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(feed + "/", timeout=5)  # noqa: S310 - a local http URL
    assert refused.value.code == 401

    alerts = demo_alerts()
    shadowed = next(a for a in alerts if a["rule"]["id"] == "demo-0006")
    now = datetime.now(UTC)
    summary = summary_doc(
        shadowed,
        suppressed_count=7,
        suppressed_post_ids=[f"bluesky:repeat-{n}" for n in range(7)],
        window_start=now - timedelta(minutes=5),
        window_end=now,
    )
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{feed}/?token={TOKEN}")
        assert page.url == feed + "/"  # the token left the address bar for a cookie
        page.wait_for_selector("#status[data-state='live']", timeout=30_000)
        assert page.locator("#empty").is_visible()

        # published while the page is open: they appear without a reload
        publish(settings, [alerts[0]])
        page.wait_for_selector(f"li[data-alert-id='{alerts[0]['alert_id']}']", timeout=30_000)
        publish(settings, [*alerts[1:], summary])
        # a locator wait: a predicate string would need eval, which the page's CSP forbids
        expect(page.locator("li.alert")).to_have_count(len(alerts) + 1, timeout=30_000)
        assert visible(page)[-1] == alerts[0]["alert_id"]  # newest first: the first is last

        first = page.locator(f"li[data-alert-id='{alerts[0]['alert_id']}']")
        assert first.locator("mark").all_inner_texts() == ["Example Front"]
        link = first.locator(".link a")
        assert link.get_attribute("href") == alerts[0]["post"]["url"]
        assert link.get_attribute("rel") == "noopener noreferrer"
        collapsed = page.locator(f"li[data-alert-id='{summary['alert_id']}']")
        assert "collapsed 7 repeat(s)" in collapsed.inner_text()
        assert (
            page.locator("#counts").inner_text()
            == f"{len(alerts) + 1} alerts, {len(alerts) + 1} shown"
        )
        page.screenshot(path=str(tmp_path / "feed.png"), full_page=False)

        page.select_option("#filter-severity", "critical")
        critical = {a["alert_id"] for a in alerts if a["rule"]["severity"] == "critical"}
        assert critical
        assert set(visible(page)) == critical
        page.select_option("#filter-severity", "info")
        page.select_option("#filter-rule", "demo-0006")
        expected = {a["alert_id"] for a in alerts if a["rule"]["id"] == "demo-0006"}
        assert set(visible(page)) == expected | {summary["alert_id"]}
        page.select_option("#filter-rule", "")
        page.select_option("#filter-source", "mastodon")
        from_mastodon = {a["alert_id"] for a in alerts if a["post"]["source"] == "mastodon"}
        assert set(visible(page)) == from_mastodon
        page.screenshot(path=str(tmp_path / "feed-filtered.png"), full_page=False)
        browser.close()

    assert requests
    outside = [url for url in requests if not url.startswith(feed + "/")]
    assert outside == [], f"the page fetched from elsewhere: {outside}"


def cookie_flags(base: str, headers: dict[str, str]) -> set[str]:
    """The attributes of the cookie the feed sets for a browser that opens it with the
    token, over plain HTTP, with these headers (a proxy's)."""
    host, _, port = base.removeprefix("http://").partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", f"/?token={TOKEN}", headers=headers)
        answer = connection.getresponse()
        assert answer.status == 303
        cookie = answer.getheader("Set-Cookie") or ""
    finally:
        connection.close()
    return {part.strip().lower() for part in cookie.split(";")[1:]}


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_or_when_told(
    settings: Settings, tmp_path: Path
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    with serving(settings, tmp_path / "plain.log") as base:
        assert "secure" not in cookie_flags(base, https)  # a proxy not trusted
        assert {"httponly", "samesite=strict"} <= cookie_flags(base, {})
    with serving(settings, tmp_path / "proxied.log", "--trust-proxy") as base:
        assert "secure" in cookie_flags(base, https)
        assert "secure" not in cookie_flags(base, {})
    with serving(settings, tmp_path / "secure.log", "--secure-cookie") as base:
        assert "secure" in cookie_flags(base, {})
