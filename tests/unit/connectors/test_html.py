"""HTML of statuses and feed entries to plain text and links."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postwatch.connectors.html import html_to_text


def test_mastodon_link_markup_gives_the_whole_url_and_only_outside_links() -> None:
    html = (
        '<p><a href="https://ruby.social/tags/jazz" class="mention hashtag" rel="tag">#'
        '<span>jazz</span></a> at <a href="https://example.org/gig?a=1&amp;b=2">'
        '<span class="invisible">https://</span><span class="ellipsis">example.org/g</span>'
        '<span class="invisible">ig?a=1&amp;b=2</span></a></p>'
        '<p><span class="h-card"><a class="u-url mention" href="https://x.test/@bob">@'
        "<span>bob</span></a></span> see you<br>there</p>"
    )
    result = html_to_text(html)
    assert result.text == "#jazz at https://example.org/gig?a=1&b=2\n\n@bob see you\nthere"
    assert result.links == ("https://example.org/gig?a=1&b=2",)


def test_scripts_and_styles_are_dropped_and_whitespace_folded() -> None:
    html = "<div>  one\n two </div><script>alert(1)</script><style>p{}</style><p>three</p>"
    assert html_to_text(html).text == "one\ntwo\n\nthree"


def test_repeated_links_are_listed_once() -> None:
    html = '<a href="https://a.test/">a</a> <a href="https://a.test/">again</a>'
    assert html_to_text(html).links == ("https://a.test/",)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("x<![ y", "x"),  # a malformed marked section: Python's parser asserted on it
        ("a<![if !IE]>b<![endif]>c", "abc"),
        ("a<!DOCTYPE [ b", "a"),
        ("a<!x y>b", "ab"),
        ("a <b>bold</b> <a href='https://a.test/' q", "a bold"),  # a tag cut off at the end
        ("a<!-- never closed", "a"),
        ("fish &amp chips &", "fish & chips &"),
    ],
)
def test_malformed_markup_gives_the_text_a_browser_shows(html: str, text: str) -> None:
    assert html_to_text(html).text == text


@pytest.mark.parametrize(
    "piece", ["<a ", '<a b="', "<!--", "<![CDATA[", "<![ ", "<a/", "</a ", "<div>", "<ul><li>"]
)
def test_html_is_read_in_time_proportional_to_its_length(piece: str) -> None:
    """Python's own recovery of an unfinished construct at the end re-reads the rest of the
    document for each one: 60 KB of `<a ` took 42 s."""
    started = time.monotonic()
    html_to_text("words " + piece * (256 * 1024 // len(piece)) + " end")
    assert time.monotonic() - started < 5


html_pieces = st.sampled_from(
    ["<", ">", "/", "!", "-", "--", "[", "]", "?", "&", "#", ";", "=", '"', "'", " ", "\n", "a",
     "<![", "<!", "</", "<?", "<!--", "-->",
     "p", "br", "script", "style", "CDATA", "DOCTYPE", "href", "x", "&amp;", "&#", "&#x", "1"]
)  # fmt: skip


@given(st.lists(html_pieces | st.text(max_size=3), max_size=60).map("".join))
@settings(max_examples=300, deadline=None)
def test_any_text_reads_as_html_without_an_error(html: str) -> None:
    result = html_to_text(html)
    assert "\n\n\n" not in result.text
    assert result.text == result.text.strip()
