"""Telegram's public channel preview, `https://t.me/s/<channel>`: one page of HTML read into
typed messages.

A page lists the latest messages of a channel (about twenty), oldest first; with
`?before=<id>` it lists the ones just older than message `id`. Each message is a
`div.tgme_widget_message` whose `data-post` is `<channel>/<message id>`. The page is read
with an HTML parser (lexbor, through selectolax); only CSS `url(…)` values inside `style`
attributes are picked out by pattern, as they are CSS, not HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from postwatch.connectors.base import MalformedEvent, parse_time

__all__ = ["CHANNEL_NAME", "Forward", "Media", "Message", "Page", "channel_post", "parse_page"]

CHANNEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
"""A public channel's username: letters, digits and underscores, starting with a letter."""

_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")
_HASHTAG_LINK = "?q=%23"
"""Hashtags link to the channel's own search for them: `?q=%23tag`."""
_MEDIA = ", ".join(
    (
        "a.tgme_widget_message_photo_wrap",
        "a.tgme_widget_message_video_player",
        "video.tgme_widget_message_roundvideo",
        "i.tgme_widget_message_sticker",
        "audio.tgme_widget_message_voice",
    )
)


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    kind: str
    """`image`, `video` or `audio`, as in Post v1."""


@dataclass(frozen=True, slots=True)
class Forward:
    """Where a forwarded message came from: a channel, a user, or a hidden sender (no URL)."""

    name: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Message:
    channel: str
    """The channel's username as the page writes it (its own capitalisation)."""
    id: int
    url: str
    created_at: datetime
    channel_title: str | None
    text: str
    """The visible text, line breaks kept; a poll is its question and options, one a line."""
    links: tuple[str, ...]
    """Links in the text, the link preview's and a shared location's, without repeats."""
    hashtags: tuple[str, ...]
    media: tuple[Media, ...]
    forwarded_from: Forward | None
    signed_by: str | None
    """The admin who signed the message, in channels that sign messages."""
    edited: bool
    reply_to: tuple[str, int] | None
    """(channel, message id) of the message this one replies to."""
    service: bool
    """A service message (channel created, renamed, photo changed, message pinned)."""


@dataclass(frozen=True, slots=True)
class Page:
    preview: bool
    """Whether this is a channel's message history at all: a channel without a public
    preview answers with (a redirect to) its plain info page."""
    messages: tuple[Message, ...]
    """In page order: oldest first."""
    broken: tuple[MalformedEvent, ...]
    """Messages that could not be read, with the reason."""


def parse_page(html: str, page_url: str) -> Page:
    """Read one preview page; relative links are resolved against `page_url`."""
    tree = LexborHTMLParser(html)
    messages: list[Message] = []
    broken: list[MalformedEvent] = []
    for node in tree.css("div.tgme_widget_message[data-post]"):
        try:
            messages.append(_message(node, page_url))
        except MalformedEvent as exc:
            broken.append(exc)
        except Exception as exc:  # hostile input: whatever else it breaks is this message's
            broken.append(MalformedEvent("bad_message", f"unreadable: {exc!r:.200}"))
    preview = tree.css_first("section.tgme_channel_history") is not None
    return Page(preview, tuple(messages), tuple(broken))


def _message(node: LexborNode, page_url: str) -> Message:
    post = node.attributes.get("data-post") or ""
    channel, _, number = post.partition("/")
    if not CHANNEL_NAME.fullmatch(channel) or not _is_number(number):
        raise MalformedEvent("bad_message", f"not a channel post: {post!r}")
    date = node.css_first("a.tgme_widget_message_date")
    moment = date.css_first("time[datetime]") if date is not None else None
    if date is None or moment is None:
        raise MalformedEvent("bad_message", f"{post}: no date")
    text_node = node.css_first(".tgme_widget_message_text")
    text, links, hashtags = _text(text_node, page_url) if text_node else ("", [], [])
    poll = _poll(node)
    for extra in ("a.tgme_widget_message_link_preview", "a.tgme_widget_message_location_wrap"):
        target = node.css_first(extra)
        if target is not None and target.attributes.get("href"):
            links.append(urljoin(page_url, target.attributes["href"] or ""))
    meta = node.css_first(".tgme_widget_message_meta")
    return Message(
        channel=channel,
        id=int(number),
        url=urljoin(page_url, date.attributes.get("href") or f"/{channel}/{number}"),
        created_at=parse_time(moment.attributes.get("datetime")),
        channel_title=_text_of(node.css_first(".tgme_widget_message_owner_name")),
        text="\n\n".join(part for part in (text, poll) if part),
        links=tuple(dict.fromkeys(links)),
        hashtags=tuple(dict.fromkeys(hashtags)),
        media=_media(node, page_url),
        forwarded_from=_forward(node, page_url),
        signed_by=_text_of(node.css_first(".tgme_widget_message_from_author")),
        edited=meta is not None and "edited" in meta.text(deep=False),
        reply_to=_reply_to(node),
        service="service_message" in (node.attributes.get("class") or "").split(),
    )


def _text(node: LexborNode, page_url: str) -> tuple[str, list[str], list[str]]:
    """Text, links and hashtags of a message text: `<br>` is a line break; the source's own
    line breaks are only layout. The nodes are visited in document order without recursion,
    however deep the markup nests."""
    parts: list[str] = []
    links: list[str] = []
    hashtags: list[str] = []
    for child in node.traverse(include_text=True):
        if child.mem_id == node.mem_id:
            continue
        if child.is_text_node:
            parts.append((child.text_content or "").replace("\n", " "))
        elif child.tag == "br":
            parts.append("\n")
        elif child.tag == "a":
            href = child.attributes.get("href")
            if href and href.startswith(_HASHTAG_LINK):
                hashtags.append(unquote(href[len(_HASHTAG_LINK) :]))
            elif href:
                links.append(urljoin(page_url, href))
    lines = (line.strip() for line in "".join(parts).split("\n"))
    return "\n".join(lines).strip(), links, hashtags


def _poll(node: LexborNode) -> str:
    question = _text_of(node.css_first(".tgme_widget_message_poll_question"))
    if question is None:
        return ""
    options = (_text_of(o) for o in node.css(".tgme_widget_message_poll_option_text"))
    return "\n".join([question, *(o for o in options if o)])


def _media(node: LexborNode, page_url: str) -> tuple[Media, ...]:
    """Photos, videos, round videos, stickers and voice notes, in page order. A video the
    preview does not serve (too big) is represented by its poster image."""
    found: dict[str, str] = {}
    for item in node.css(_MEDIA):
        kind, url = "image", None
        if item.tag == "a" and "tgme_widget_message_video_player" in (
            item.attributes.get("class") or ""
        ):
            video = item.css_first("video[src]")
            if video is not None:
                kind, url = "video", video.attributes.get("src")
            else:
                url = _css_url(item.css_first("i.tgme_widget_message_video_thumb"))
        elif item.tag == "a":
            url = _css_url(item)
        elif item.tag == "video":
            kind, url = "video", item.attributes.get("src")
        elif item.tag == "audio":
            kind, url = "audio", item.attributes.get("src")
        else:
            url = item.attributes.get("data-webp")
        if url:
            found.setdefault(urljoin(page_url, url), kind)
    return tuple(Media(url, kind) for url, kind in found.items())


def _forward(node: LexborNode, page_url: str) -> Forward | None:
    source = node.css_first(".tgme_widget_message_forwarded_from_name")
    name = _text_of(source)
    if source is None or name is None:
        return None
    href = source.attributes.get("href")
    return Forward(name, urljoin(page_url, href) if href else None)


def _reply_to(node: LexborNode) -> tuple[str, int] | None:
    reply = node.css_first("a.tgme_widget_message_reply[href]")
    if reply is None:
        return None
    return channel_post(reply.attributes.get("href") or "")


def channel_post(url: str) -> tuple[str, int] | None:
    """(channel, message id) of a `t.me/<channel>/<id>` link, else None."""
    parts = urlsplit(url).path.strip("/").split("/")
    if parts and parts[0] == "s":
        parts = parts[1:]
    if len(parts) == 2 and CHANNEL_NAME.fullmatch(parts[0]) and _is_number(parts[1]):
        return parts[0], int(parts[1])
    return None


def _is_number(text: str) -> bool:
    """Whether `text` is a message id: ASCII digits ("²" is a digit to `str.isdigit` only)."""
    return text.isascii() and text.isdigit()


def _text_of(node: LexborNode | None) -> str | None:
    if node is None:
        return None
    return " ".join(node.text().split()) or None


def _css_url(node: LexborNode | None) -> str | None:
    style = node.attributes.get("style") if node is not None else None
    found = _CSS_URL.search(style or "")
    return found.group(1) if found else None
