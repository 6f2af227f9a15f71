"""The review console end to end, in Debian's chromium driven by Playwright (no browser
download): a worker with a hash bank raises an alert on a post whose media matches it; the
alert shows in the console (`postwatch alerts serve`); a reviewer moves to it and marks it a
false positive with the keyboard, with a note; the decision is on the decisions topic in
the reviewer's name; the same media sent again raises no alert (the worker applied the
decision live). A viewer sees no decision buttons, its keys do nothing, and a forged POST is
refused; so is a reviewer's POST without the CSRF token. The page loads nothing from
anywhere but the console's own server."""

from __future__ import annotations

import asyncio
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from postwatch.rules.alerts import encode
from postwatch.settings import Settings
from tests.conftest import env_for, read_topic, run_postwatch, stop_process
from tests.integration.alerts.conftest import free_port, publish_alerts
from tests.integration.test_live_rules import Alerts, post, send_once
from tests.recorded_alerts import ALERTS, by_n

PHOTO = Path(__file__).parents[1] / "files" / "media" / "clip-frame5.png"

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
KNOWN = "5f" * 32  # the bank's SHA-256
PACK = f"""
pack: review
version: 1
banks:
  known:
    sha256: ["{KNOWN}"]
rules:
  - id: known-media
    title: Known media
    severity: critical
    match: {{hashes: {{bank: known}}}}
  - id: names
    title: Names of listed organisations
    severity: medium
    match: {{keywords: ["example front", "فرنٹ مثال"]}}
"""
T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    assert shutil.which(CHROMIUM), "chromium is not installed (Debian: apt-get install chromium)"


def in_thread(work: Callable[[], T]) -> T:
    """Run `work` on a thread of its own: Playwright's sync API keeps an event loop on this
    one, and the Kafka clients of the tests run one of their own."""
    result: list[T] = []
    worker = threading.Thread(target=lambda: result.append(work()))
    worker.start()
    worker.join(120)
    assert result, "the work on the side thread failed or took too long"
    return result[0]


def add_user(settings: Settings, users: Path, name: str, role: str) -> str:
    """`postwatch alerts users add`: the token it prints, once."""
    done = subprocess.run(
        [sys.executable, "-m", "postwatch", "alerts", "users", "add", name, "--role", role],
        env=env_for(settings, POSTWATCH_ALERTS_USERS=str(users)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = done.stdout.strip()
    assert token.startswith(f"{name}.")
    assert token.split(".", 1)[1] not in users.read_text()  # only its hash is kept
    return token


@contextmanager
def serving(
    settings: Settings, users: Path, log: Path, *args: str, port: int = 0, **env: str
) -> Iterator[str]:
    """A running `postwatch alerts serve` with this users file (and POSTWATCH_* settings)
    on this port (a free one if 0); yields its base URL."""
    port = port or free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "postwatch", "alerts", "serve", "--port", str(port), *args],
        env=env_for(
            settings,
            POSTWATCH_ALERTS_USERS=str(users),
            **{f"POSTWATCH_{k.upper()}": v for k, v in env.items()},
        ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2)  # noqa: S310 - a local http URL
        except urllib.error.HTTPError:
            break  # it answers (with 401: no user)
        except OSError:
            time.sleep(0.2)
    try:
        yield base
    finally:
        assert stop_process(server) == 0


def media(sha256: str, url: str | None = None) -> dict[str, Any]:
    return {"media": [{"kind": "image", "sha256": sha256, **({"url": url} if url else {})}]}


@pytest.fixture
def photo_url() -> Iterator[str]:
    """A local server of one image, `/photo.png`, on its own thread; its URL."""
    folder = Path(tempfile.mkdtemp())
    shutil.copy(PHOTO, folder / "photo.png")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/photo.png"
    finally:
        server.shutdown()
        thread.join(10)


def decisions(settings: Settings, count: int) -> list[dict[str, Any]]:
    records = in_thread(
        lambda: asyncio.run(read_topic(settings, settings.topic("decisions"), count=count, wait=20))
    )
    return [orjson.loads(r.value or b"") for r in records]


def selected(page: Page) -> str | None:
    found: str | None = page.get_attribute("#queue li[aria-selected='true']", "data-alert-id")
    return found


def signed_in(browser: Browser, base: str, token: str, requests: list[str]) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{base}/?token={token}")
    assert page.url == base + "/"  # the token left the address bar for a session cookie
    page.wait_for_selector("#status[data-state='live']", timeout=30_000)
    return page


@pytest.mark.timeout(300)
def test_a_false_positive_decided_with_the_keyboard_stops_the_hash_matching(
    settings: Settings,
    tmp_path: Path,
    start_worker: Callable[..., subprocess.Popen[bytes]],
    photo_url: str,
) -> None:
    pack = tmp_path / "review.yaml"
    pack.write_text(PACK)
    start_worker(pack)
    first = [
        post("1", "We stand with the Example Front", "writer"),
        post("2", "a photo", "poster", **media(KNOWN, photo_url)),
        post("3", "فرنٹ مثال کے ساتھ", "urdu"),
    ]
    alerts = Alerts(settings)
    seen = in_thread(
        lambda: asyncio.run(alerts.until(lambda a: len(a) >= 3, 120, send_once(settings, first)))
    )
    by_post = {a["post"]["id"]: a for a in seen}
    assert sorted(by_post) == ["test:1", "test:2", "test:3"]
    target = by_post["test:2"]["alert_id"]

    users = tmp_path / "users.toml"
    reviewer = add_user(settings, users, "rita", "reviewer")
    viewer = add_user(settings, users, "vic", "viewer")
    admin = add_user(settings, users, "ada", "admin")
    requests: list[str] = []
    metrics = free_port()
    with (
        serving(
            settings,
            users,
            tmp_path / "serve.log",
            "--metrics-port",
            str(metrics),
            "--media-private",  # the photo's server is on this machine
        ) as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = signed_in(browser, base, reviewer, requests)
        expect(page.locator("#queue li.alert")).to_have_count(3, timeout=30_000)
        assert page.locator("#who").inner_text() == "rita · reviewer"

        # j and k move through the queue; the alert's detail follows
        for _ in range(3):
            if selected(page) == target:
                break
            page.keyboard.press("j")
            page.wait_for_timeout(300)
        if selected(page) != target:
            for _ in range(3):
                page.keyboard.press("k")
                page.wait_for_timeout(300)
                if selected(page) == target:
                    break
        assert selected(page) == target
        expect(page.locator("#detail")).to_have_attribute("data-alert-id", target)
        assert KNOWN in page.locator("#detail .evidence").inner_text()

        # the post's photo, through the console's own server, is blurred until clicked
        photo = page.locator("#detail img.media").first
        expect(photo).to_have_class(re.compile(r"\bblurred\b"))
        page.wait_for_function(
            "() => { const i = document.querySelector('#detail img.media');"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=30_000,
        )
        assert "blur" in photo.evaluate("i => getComputedStyle(i).filter")
        photo.click()
        expect(photo).not_to_have_class(re.compile(r"\bblurred\b"))
        expect(photo).to_have_css("filter", "none")  # once its transition is over

        # right-to-left text is laid out right to left
        urdu = by_post["test:3"]["alert_id"]
        page.click(f"#queue li[data-alert-id='{urdu}']")
        expect(page.locator("#detail")).to_have_attribute("data-alert-id", urdu)
        excerpt = page.locator("#detail .excerpt").first
        assert excerpt.get_attribute("dir") == "auto"
        assert excerpt.evaluate("node => getComputedStyle(node).direction") == "rtl"
        assert excerpt.locator("mark").all_inner_texts() == ["فرنٹ مثال"]
        page.click(f"#queue li[data-alert-id='{target}']")
        expect(page.locator("#detail")).to_have_attribute("data-alert-id", target)

        # n writes a note, Escape leaves the box, f records a false positive with it
        page.keyboard.press("n")
        page.keyboard.type("a stock photo, not theirs")
        page.keyboard.press("Escape")
        page.keyboard.press("f")
        row = page.locator(f"#queue li[data-alert-id='{target}']")
        expect(row).to_have_attribute("data-verdict", "false_positive", timeout=30_000)
        page.screenshot(path=str(tmp_path / "console.png"))

        # the filters ask the server again
        page.select_option("#filter-verdict", "undecided")
        expect(page.locator("#queue li.alert")).to_have_count(2, timeout=10_000)
        page.select_option("#filter-verdict", "false_positive")
        expect(page.locator("#queue li.alert")).to_have_count(1, timeout=10_000)
        page.select_option("#filter-verdict", "")
        page.select_option("#filter-severity", "critical")
        expect(page.locator(f"#queue li[data-alert-id='{target}']")).to_have_count(1)
        expect(page.locator("#queue li.alert")).to_have_count(1, timeout=10_000)

        # a POST without the CSRF token is refused, also for the reviewer
        refused = page.request.post(
            f"{base}/api/alerts/{target}/decision", data={"verdict": "confirm", "note": ""}
        )
        assert refused.status == 403
        assert "CSRF" in refused.json()["error"]

        # rule quality: the false positive counts against the hash rule's precision
        page.click("#rules")
        quality = page.locator("#detail table.rules tr.rule", has_text="known-media")
        expect(quality.locator("td")).to_have_text(
            ["known-media", "", "1", "1", "100 %", "0 %", "1"]
        )

        # a viewer: no buttons, keys that do nothing, a forged POST refused
        looker = signed_in(browser, base, viewer, requests)
        expect(looker.locator("#queue li.alert")).to_have_count(3, timeout=30_000)
        looker.click(f"#queue li[data-alert-id='{by_post['test:1']['alert_id']}']")
        expect(looker.locator("#detail .readonly")).to_be_visible()
        assert looker.locator("#detail button.decide").count() == 0
        looker.keyboard.press("c")
        csrf = looker.evaluate("fetch('/api/me').then(r => r.json()).then(me => me.csrf)")
        forged = looker.request.post(
            f"{base}/api/alerts/{by_post['test:1']['alert_id']}/decision",
            data={"verdict": "confirm", "note": ""},
            headers={"X-CSRF-Token": csrf},
        )
        assert forged.status == 403
        assert "viewer" in forged.json()["error"]
        looker.screenshot(path=str(tmp_path / "console-viewer.png"))
        assert looker.locator("#users").count() == 0

        # an admin has a reviewer's buttons, and sees the users
        boss = signed_in(browser, base, admin, requests)
        expect(boss.locator("#queue li.alert")).to_have_count(3, timeout=30_000)
        expect(boss.locator("#detail button.decide")).to_have_count(3)
        boss.click("#users")
        expect(boss.locator("#detail table.users tr")).to_have_count(4)
        assert "ada" in boss.locator("#detail table.users").inner_text()
        browser.close()

        # rule quality for Prometheus counts the verdict
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10)
        assert (
            'postwatch_rule_decisions{rule="known-media",verdict="false_positive"} 1.0'
            in scraped.read().decode()
        )

    [decision] = decisions(settings, 2)  # the one decision; nothing the others tried
    assert (decision["alert_id"], decision["verdict"], decision["user"], decision["note"]) == (
        target,
        "false_positive",
        "rita",
        "a stock photo, not theirs",
    )

    # the same media again raises nothing; a post sent after it on the same partition does,
    # so when its alert is in, the other was evaluated
    again = [
        post("4", "the same photo", "reposter", **media(KNOWN)),
        post("5", "Example Front again", "writer"),
    ]
    seen = in_thread(
        lambda: asyncio.run(
            alerts.until(
                lambda a: any(x["post"]["id"] == "test:5" for x in a),
                90,
                send_once(settings, again),
            )
        )
    )
    assert "test:5" in {a["post"]["id"] for a in seen}
    assert "test:4" not in {a["post"]["id"] for a in seen}

    assert requests
    outside = [url for url in requests if not url.startswith(base + "/")]
    assert outside == [], f"the page fetched from elsewhere: {outside}"


@pytest.mark.timeout(240)
def test_a_console_left_open_keeps_working_after_the_server_restarts_behind_the_proxy(
    settings: Settings, tmp_path: Path
) -> None:
    # the recorded alerts: alert 7 re-posts alert 1's post
    publish_alerts(settings, [orjson.loads(encode(a)) for a in ALERTS])  # before Playwright's loop
    reappearance, original = by_n(7, 1)
    users = tmp_path / "users.toml"
    add_user(settings, users, "rita", "reviewer")
    port = free_port()
    proxy = {"alerts_proxy_user_header": "X-Forwarded-User"}
    log = tmp_path / "serve.log"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # the proxy in front adds its user to every request
        context = browser.new_context(extra_http_headers={"X-Forwarded-User": "rita"})
        page = context.new_page()
        with serving(settings, users, log, port=port, **proxy) as base:
            page.goto(base + "/")
            page.wait_for_selector("#status[data-state='live']", timeout=30_000)
            expect(page.locator("#queue li.alert")).to_have_count(8, timeout=30_000)
            # a reappearance beside its original
            page.click(f"#queue li[data-alert-id='{reappearance}']")
            expect(page.locator("#detail .compare .post")).to_have_count(2)
            assert (
                "We stand with the Example Front"
                in page.locator("#detail .compare .post").nth(1).inner_text()
            )
            assert page.locator("#detail .compare mark").all_inner_texts()[-1] == "Example Front"
            page.click(f"#queue li[data-alert-id='{original}']")
            first_csrf = page.evaluate("fetch('/api/me').then(r => r.json()).then(me => me.csrf)")
        expect(page.locator("#status")).to_have_attribute("data-state", "lost", timeout=30_000)
        with serving(settings, users, log, port=port, **proxy):
            # the event stream comes back by itself, with a new session and its CSRF token
            expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=60_000)
            expect(page.locator("#queue li.alert")).to_have_count(8, timeout=30_000)
            target = page.get_attribute("#queue li[aria-selected='true']", "data-alert-id")
            page.keyboard.press("e")
            row = page.locator(f"#queue li[data-alert-id='{target}']")
            expect(row).to_have_attribute("data-verdict", "escalate", timeout=30_000)
            csrf = page.evaluate("fetch('/api/me').then(r => r.json()).then(me => me.csrf)")
            assert csrf != first_csrf
        browser.close()
    [decision] = decisions(settings, 1)
    assert (decision["alert_id"], decision["verdict"], decision["user"]) == (
        target,
        "escalate",
        "rita",
    )


def test_the_console_needs_users(settings: Settings) -> None:
    done = run_postwatch(settings, "alerts", "serve", timeout=60)
    assert done.returncode == 2
    assert "POSTWATCH_ALERTS_USERS" in done.stderr
