"""HTML of statuses and feed entries to plain text and links."""

from __future__ import annotations

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
