"""Feed lists (URLs, plain lists, OPML), what identifies an entry, and reading feeds into
posts, in a child process with limits."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.connectors.rss import Feed, FeedListError, feeds_from
from postwatch.connectors.rss.adapter import entry_key, entry_to_post
from postwatch.connectors.rss.reading import (
    FeedUnreadable,
    ReadFeed,
    ReadLimits,
    read_feed,
    read_in_child,
)
from tests.conftest import SHARED_DATA
from tests.mutations import adapted_or_malformed, mutated, mutated_markup


def test_urls_plain_lists_and_opml_with_intervals(tmp_path: Path) -> None:
    plain = tmp_path / "feeds.txt"
    plain.write_text(
        "# news\nhttps://a.example/feed.xml 60\n\nhttps://b.example/atom  # hourly default\n"
    )
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="group">'
        '<outline type="rss" xmlUrl="https://c.example/rss" interval="900"/>'
        '<outline type="rss" xmlUrl="https://a.example/feed.xml"/>'
        "</outline></body></opml>"
    )
    feeds = feeds_from(["https://d.example/x", str(plain), str(opml)], 300.0)
    assert feeds == [
        Feed("https://d.example/x", 300.0),
        Feed("https://a.example/feed.xml", 60.0),
        Feed("https://b.example/atom", 300.0),
        Feed("https://c.example/rss", 900.0),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ftp://x.example/feed\n", "feeds.txt:1: expected 'URL"),
        ("https://x.example/feed 0\n", "feeds.txt:1: interval must be a positive"),
        ("https://x.example/feed 60 extra\n", "feeds.txt:1: expected"),
        ("<opml><body>", "not valid OPML"),
    ],
)
def test_bad_lists_name_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    listing = tmp_path / "feeds.txt"
    listing.write_text(content)
    with pytest.raises(FeedListError, match=message):
        feeds_from([str(listing)], 300.0)


def test_a_missing_list_is_reported() -> None:
    with pytest.raises(FeedListError, match="cannot read"):
        feeds_from(["/nonexistent/feeds.txt"], 300.0)


def test_entries_are_known_by_id_else_link_else_their_text() -> None:
    parsed = feedparser.parse(
        "<rss version='2.0'><channel>"
        "<item><guid isPermaLink='false'>g-1</guid><link>https://x.example/1</link></item>"
        "<item><link>https://x.example/2</link></item>"
        "<item><title>only a title</title></item>"
        "<item><title>only a title</title></item>"
        "</channel></rss>"
    )
    keys = [entry_key(e) for e in parsed.entries]
    assert keys[:2] == ["id:g-1", "link:https://x.example/2"]
    assert keys[2].startswith("sha256:")
    assert keys[2] == keys[3]  # the same text is the same entry


FIRST_SEEN = datetime(2026, 7, 4, 14, 38, tzinfo=UTC)
FEED_URL = "https://feeds.example/feed.xml"


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


def test_an_entry_dated_beyond_year_9999_in_utc_is_dated_when_first_seen() -> None:
    read = read_feed(
        rss("<title>far</title><pubDate>9999-12-31T23:59:59-12:00</pubDate>"),
        {},
        FEED_URL,
        FIRST_SEEN,
    )
    [entry] = read.entries
    assert entry.post is not None
    assert entry.post["created_at"] == "2026-07-04T14:38:00.000Z"


def test_a_description_with_a_malformed_marked_section_is_read() -> None:
    [entry] = read_feed(
        rss("<title>t</title><description>x&lt;![ y</description>"), {}, FEED_URL, FIRST_SEEN
    ).entries
    assert entry.post is not None
    assert entry.post["text"].startswith("t\n\nx")


RECORDED_FEEDS = sorted(
    p.read_text(encoding="utf-8", errors="replace")
    for p in (SHARED_DATA / "rss_atom").rglob("*.xml")
    if p.stat().st_size < 20_000  # the large one makes each example slow, not more hostile
)


@given(st.sampled_from(RECORDED_FEEDS).flatmap(mutated_markup))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_of_a_recorded_feed_reads_into_posts_or_refused_entries(feed: str) -> None:
    read = read_feed(feed.encode("utf-8", "surrogatepass"), {}, FEED_URL, FIRST_SEEN)
    for entry in read.entries:
        assert entry.key
        if entry.post is None:
            assert entry.reason
        else:
            assert adapted_or_malformed(partial(dict, entry.post)) is not None


def recorded_entries() -> list[dict[str, Any]]:
    entries = []
    for path in sorted((SHARED_DATA / "rss_atom").rglob("*.xml")):
        entries += [dict(e) for e in feedparser.parse(path.read_bytes()).entries]
    return [e for e in entries if e]


@given(st.sampled_from(recorded_entries()).flatmap(mutated))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_of_a_recorded_entry_is_a_post_or_malformed(entry: Any) -> None:
    if not isinstance(entry, dict):
        return
    feed = {"title": "t", "language": "en"}
    key = entry_key(entry)
    adapted_or_malformed(lambda: entry_to_post(entry, FEED_URL, feed, key, FIRST_SEEN))


def test_a_feed_that_takes_too_long_is_cut_off_and_the_next_is_read() -> None:
    slow = rss("<title>slow</title><description>" + "&lt;!--" * 40_000 + "</description>")

    async def read_both() -> tuple[float, ReadFeed]:
        started = time.monotonic()
        with pytest.raises(FeedUnreadable) as caught:
            await read_in_child(slow, {}, FEED_URL, FIRST_SEEN, ReadLimits(seconds=1.0))
        assert caught.value.reason == "parse_timeout"
        took = time.monotonic() - started
        return took, await read_in_child(
            rss("<title>ok</title>"), {}, FEED_URL, FIRST_SEEN, ReadLimits()
        )

    took, read = asyncio.run(read_both())
    assert took < 5  # 1 s of reading, the start of the process server, no more
    assert [e.post["text"] for e in read.entries if e.post] == ["ok"]


def test_a_feed_that_needs_more_memory_than_allowed_is_unreadable() -> None:
    items = "".join(f"<item><title>entry {n}</title></item>" for n in range(20_000))
    large = f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()
    limits = ReadLimits(memory_bytes=200 << 20)  # 185 MiB are mapped before reading starts

    with pytest.raises(FeedUnreadable) as caught:
        asyncio.run(read_in_child(large, {}, FEED_URL, FIRST_SEEN, limits))
    assert caught.value.reason == "parser_crashed"
    # and with the default limit, the same feed is read
    read = asyncio.run(read_in_child(large, {}, FEED_URL, FIRST_SEEN, ReadLimits()))
    assert len(read.entries) == 20_000


def test_a_feed_in_an_encoding_named_with_a_nul_is_no_feed() -> None:
    body = b'<?xml version="1.0" encoding="\x00"?><rss version="2.0"><channel/></rss>'
    read = read_feed(body, {}, FEED_URL, FIRST_SEEN)
    assert read.entries == ()
    assert read.not_a_feed
