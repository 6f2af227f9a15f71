"""A local t.me that serves channel previews built from the recorded message fragments:
newest page by default, `?before=<id>` for older ones, a redirect to the channel's info page
for channels without a preview, and 429s on demand."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from aiohttp import web
from selectolax.lexbor import LexborHTMLParser

from tests.conftest import SHARED_DATA

FIXTURES = SHARED_DATA / "telegram"
NO_POSTS = FIXTURES / "tchan_tme_s_tchantest__test_parse_no_posts_found.extracted.html"
INFO = FIXTURES / "tchan_tme_s_tchantest__test_channel_info.extracted.html"


def recorded_messages() -> dict[str, dict[int, str]]:
    """The HTML of every recorded message, by channel (lowercased) and message id."""
    found: dict[str, dict[int, str]] = {}
    for path in sorted(FIXTURES.glob("*.html")):
        tree = LexborHTMLParser(path.read_text(encoding="utf-8"))
        for wrap in tree.css("div.tgme_widget_message_wrap"):
            message = wrap.css_first("div.tgme_widget_message[data-post]")
            if message is not None:
                channel, _, number = (message.attributes["data-post"] or "").partition("/")
                found.setdefault(channel.lower(), {})[int(number)] = wrap.html or ""
    return found


def edited(message: str, old_text: str, new_text: str) -> str:
    """`message` with its text replaced and the `edited` mark added, as Telegram shows an
    edited message."""
    assert message.count(old_text) == 1
    meta = '<span class="tgme_widget_message_meta">'
    return message.replace(old_text, html.escape(new_text)).replace(meta, meta + "edited &nbsp;")


@dataclass
class TelegramReplay:
    published: dict[str, dict[int, str]] = field(default_factory=dict)
    """What each channel has published so far, by message id."""
    page_size: int = 20
    refuse: int = 0
    """How many requests are answered 429 with `Retry-After: 1` first."""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    """(channel, before) of every preview request answered 200."""
    answered: list[tuple[str, int, float]] = field(default_factory=list)
    """(channel, status, monotonic time) of every preview request."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/s/{channel}", self._preview)
        app.router.add_get("/{channel}", self._info)
        return app

    def publish(self, channel: str, messages: dict[int, str]) -> None:
        self.published.setdefault(channel, {}).update(messages)

    async def _preview(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        if self.refuse:
            self.refuse -= 1
            self.answered.append((channel, 429, time.monotonic()))
            return web.Response(status=429, headers={"Retry-After": "1"})
        if channel not in self.published:
            self.answered.append((channel, 302, time.monotonic()))
            raise web.HTTPFound(f"/{channel}")
        self.answered.append((channel, 200, time.monotonic()))
        before = request.query.get("before")
        self.requests.append((channel, before))
        ids = sorted(i for i in self.published[channel] if before is None or i < int(before))
        page = ids[-self.page_size :]
        if not page:
            return web.Response(text=NO_POSTS.read_text(encoding="utf-8"), content_type="text/html")
        body = "\n".join(self.published[channel][i] for i in page)
        prev = f'<link rel="prev" href="/s/{channel}?before={page[0]}">' if page[0] > 1 else ""
        document = (
            f"<!DOCTYPE html><html><head><title>{channel}</title>{prev}</head><body>"
            '<main class="tgme_main"><div class="tgme_container">'
            f'<section class="tgme_channel_history js-message_history">{body}</section>'
            "</div></main></body></html>"
        )
        return web.Response(text=document, content_type="text/html")

    async def _info(self, request: web.Request) -> web.Response:
        return web.Response(text=INFO.read_text(encoding="utf-8"), content_type="text/html")
