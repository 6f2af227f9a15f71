"""Feed lists (URLs, plain lists, OPML) and what identifies an entry."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from postwatch.connectors.rss import Feed, FeedListError, feeds_from
from postwatch.connectors.rss.adapter import entry_key


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
