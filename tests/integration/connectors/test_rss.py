"""The RSS/Atom connector against a local server for feedparser's recorded test feeds."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from postwatch.connectors.rss import Feed, RssConnector
from postwatch.settings import Settings
from tests.integration.connectors import harness
from tests.integration.connectors.feed_server import FEEDS, FeedServer, recorded_feeds
from tests.local_server import served

LARGE = "wellformed/sanitize/large_atom_feed_that_needs_css_sanitisation.xml"
# posts each recorded feed holds; the rest hold none (a channel without items, an empty
# item, a JSON Feed, which is not RSS or Atom)
ENTRIES = {
    "encoding/demoronize-1.xml": 1,
    "illformed/chardet/koi8r.xml": 1,
    "illformed/chardet/shiftjis.xml": 1,
    "illformed/rss_item_link_corrupted_ampersands.xml": 1,
    "wellformed/atom10/entry_content_base64.xml": 1,
    "wellformed/atom10/entry_content_escaped_markup.xml": 1,
    "wellformed/atom10/entry_content_inline_markup.xml": 1,
    "wellformed/atom10/entry_id.xml": 1,
    "wellformed/namespace/atomthreadingwithentry.xml": 1,
    "wellformed/namespace/rss1.0withModules.xml": 1,
    "wellformed/namespace/rss2.0NSwithModules.xml": 1,
    "wellformed/rss/item_content_encoded.xml": 1,
    "wellformed/rss/item_description_escaped_markup.xml": 1,
    "wellformed/rss/item_enclosure_multiple.xml": 1,
    "wellformed/rss/item_guid_guidislink.xml": 1,
    LARGE: 15,
}


def by_feed(got: list[dict[str, Any]], base: str) -> Counter[str]:
    return Counter(p["author"]["id"].removeprefix(f"rss:{base}/feeds/") for p in got)


def test_every_entry_arrives_mapped_and_broken_feeds_never_stop_the_others(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        server = FeedServer()
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-r1"
            feeds = [Feed(f"{base}/feeds/{path}", 3600) for path in [*recorded_feeds(), "gone.xml"]]
            started = datetime.now(UTC)
            async with harness.running(settings, RssConnector(feeds, instance=name)):
                got = await harness.posts(settings, count=30)
                await harness.until(lambda: len(server.served(404)) >= 1)
        assert by_feed(got, base) == Counter(ENTRIES)
        assert len({p["id"] for p in got}) == 30
        texts = {p["author"]["id"].rsplit("/feeds/", 1)[1]: p for p in got}
        assert texts["encoding/demoronize-1.xml"]["text"] == "don’t"  # cp1252 quote
        assert texts["illformed/chardet/koi8r.xml"]["text"].startswith(
            "Как пережить новогоднюю ночь\n\nНаверное, единственное, во что сегодня"
        )
        assert texts["illformed/chardet/shiftjis.xml"]["text"].startswith(
            "DrecomRSSに記事投稿が反映されない…\n\n色々調べてたら、MT3.2がRSS1.0を"
        )
        for kind in ("base64", "escaped_markup", "inline_markup"):
            assert texts[f"wellformed/atom10/entry_content_{kind}.xml"]["text"] == "Example Atom"
        ampersands = texts["illformed/rss_item_link_corrupted_ampersands.xml"]
        assert ampersands["url"] == "http://link/get?a=1&b=2"
        enclosures = texts["wellformed/rss/item_enclosure_multiple.xml"]
        assert enclosures["media"] == [
            {"url": "http://example.com/1", "kind": "image"},
            {"url": "http://example.com/2", "kind": "image"},
        ]
        undated = datetime.fromisoformat(enclosures["created_at"])
        assert started - timedelta(seconds=1) <= undated <= datetime.now(UTC)
        rss10 = dict(texts["wellformed/namespace/rss1.0withModules.xml"])
        feed_url = f"{base}/feeds/wellformed/namespace/rss1.0withModules.xml"
        assert re.fullmatch(r"rss:[0-9a-f]{32}", rss10.pop("id"))
        assert rss10.pop("observed_at")
        assert rss10 == {
            "schema": "postwatch.post/1",
            "source": "rss",
            "url": "http://www.pocketsoap.com/weblog/rssTests/rss1.0withModules.xml#1",
            "created_at": "2002-09-28T20:01:19.000Z",
            "author": {
                "id": f"rss:{feed_url}",
                "handle": None,
                "display_name": "RSS Tests - RSS 1.0",
            },
            "text": "Test Item - RSS 1.0\n\nThis is a fairly standard RSS 1.0 feed with a few "
            "modules, with no localname clashes, any aggregator that supports RSS 1.0 should "
            "handle this fine (RSS 1.0)",
            "lang": "en-gb",
            "links": ["http://www.pocketsoap.com/weblog/rssTests/rss1.0withModules.xml#1"],
            "hashtags": [],
            "media": [],
            "reply_to": None,
            "repost_of": None,
        }
        labels = {"connector": "rss", "instance": name}
        errors = "postwatch_connector_errors_total"
        assert harness.metric(errors, reason="not_a_feed", **labels) >= 1  # the JSON Feed, retried
        assert harness.metric(errors, reason="rejected", **labels) == 1  # the missing feed
        assert (
            harness.metric("postwatch_connector_skipped_total", reason="empty_entry", **labels) == 1
        )

    asyncio.run(scenario())


def test_cut_and_failing_feeds_are_retried_without_repeats(settings: Settings) -> None:
    async def scenario() -> None:
        rss2 = "wellformed/namespace/rss2.0NSwithModules.xml"
        server = FeedServer(failures={rss2: 2}, cuts={LARGE})
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-r2"
            feeds = [Feed(f"{base}/feeds/{path}", 0.3) for path in (LARGE, rss2)]
            async with harness.running(settings, RssConnector(feeds, instance=name)):
                got = await harness.posts(settings, count=16)
                await harness.until(lambda: len(server.served(304)) >= 4)
        assert by_feed(got, base) == Counter({LARGE: 15, rss2: 1})
        assert server.requests[:2] == [(LARGE, 200), (rss2, 503)] or server.requests[:2] == [
            (rss2, 503),
            (LARGE, 200),
        ]
        labels = {"connector": "rss", "instance": name}
        errors = "postwatch_connector_errors_total"
        assert harness.metric(errors, reason="http_503", **labels) == 2
        assert harness.metric(errors, reason="connection", **labels) == 1
        assert harness.metric("postwatch_connector_reconnects_total", **labels) == 3

    asyncio.run(scenario())


def test_a_restarted_process_asks_conditionally_and_produces_only_new_entries(
    settings: Settings, tmp_path: Path
) -> None:
    recorded = (FEEDS / LARGE).read_text(encoding="utf-8")
    # the feed as it was five entries earlier: the newest five not yet published
    entries = list(re.finditer(r"<entry>.*?</entry>\s*", recorded, flags=re.DOTALL))
    earlier = recorded[: entries[0].start()] + recorded[entries[5].start() :]

    async def scenario() -> None:
        server = FeedServer(bodies={LARGE: earlier.encode("utf-8")})
        async with served(server.app()) as base:
            other = "wellformed/namespace/rss1.0withModules.xml"
            listing = tmp_path / "feeds.txt"
            listing.write_text(f"# test feeds\n{base}/feeds/{LARGE} 0.5\n{base}/feeds/{other}\n")
            name = f"{settings.topic_prefix}-r3"
            args = ["rss", "--feeds", str(listing), "--interval", "3600", "--name", name]
            log = tmp_path / "connector.log"
            first = harness.start_process(settings, log, *args)
            assert len(await harness.posts(settings, count=11)) == 11
            assert await harness.stop(first) == 0
            server.requests.clear()
            second = harness.start_process(settings, log, *args)
            await harness.until(lambda: set(server.served(304)) == {LARGE, other}, wait=30)
            del server.bodies[LARGE]  # the five newest entries are published
            got = await harness.posts(settings, count=16)
            assert await harness.stop(second) == 0
        assert by_feed(got, base) == Counter({LARGE: 15, other: 1}), log.read_text()

    asyncio.run(scenario())


HOSTILE_FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>hostile</title>
<item><guid>far</guid><title>far</title><pubDate>9999-12-31T23:59:59-12:00</pubDate></item>
<item><guid>marked</guid><title>marked</title><description>x&lt;![ y</description></item>
<item><guid>plain</guid><title>plain</title><description>fine</description></item>
</channel></rss>"""


def test_hostile_entries_are_counted_and_every_other_entry_and_feed_arrives(
    settings: Settings,
) -> None:
    other = "wellformed/namespace/rss1.0withModules.xml"

    async def scenario() -> None:
        server = FeedServer(bodies={"hostile.xml": HOSTILE_FEED})
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-r4"
            feeds = [Feed(f"{base}/feeds/{path}", 0.3) for path in ("hostile.xml", other)]
            started = datetime.now(UTC)
            async with harness.running(settings, RssConnector(feeds, instance=name)) as task:
                got = await harness.posts(settings, count=4)
                await harness.until(lambda: len(server.served(304)) >= 2)
                assert not task.done()
        assert by_feed(got, base) == Counter({"hostile.xml": 3, other: 1})
        texts = {p["text"].split("\n")[0]: p for p in got}
        assert texts["marked"]["text"].startswith("marked\n\nx")
        far = datetime.fromisoformat(texts["far"]["created_at"])  # its first sight instead
        assert started - timedelta(seconds=1) <= far <= datetime.now(UTC)

    asyncio.run(scenario())


def test_a_feed_that_takes_too_long_to_read_is_that_feeds_failure(settings: Settings) -> None:
    """feedparser's time grows with the square of a run of `<!--` (280 KB: about 9 s)."""
    other = "wellformed/namespace/rss1.0withModules.xml"
    comments = b"&lt;!--" * 40_000
    slow = b'<rss version="2.0"><channel><item><title>slow</title><description>'
    slow += comments + b"</description></item></channel></rss>"

    async def scenario() -> None:
        server = FeedServer(bodies={"slow.xml": slow})
        async with served(server.app()) as base:
            name = f"{settings.topic_prefix}-r5"
            feeds = [Feed(f"{base}/feeds/{path}", 0.5) for path in ("slow.xml", other)]
            labels = {"connector": "rss", "instance": name}
            connector = RssConnector(feeds, instance=name, read_seconds=1.0)
            async with harness.running(settings, connector) as task:
                got = await harness.posts(settings, count=1, wait=10)
                await harness.until(
                    lambda: (
                        harness.metric(
                            "postwatch_connector_errors_total", reason="rejected", **labels
                        )
                        >= 1
                    ),
                    wait=5,
                )
                # the version that could not be read is not read again
                await harness.until(lambda: "slow.xml" in server.served(304), wait=10)
                assert not task.done()
        assert by_feed(got, base) == Counter({other: 1})

    asyncio.run(scenario())
