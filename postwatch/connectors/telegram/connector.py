"""The Telegram connector: public channels read through their web preview, polled politely."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

from postwatch.connectors.base import Cursor, RecentKeys, Runtime, SourceRejected
from postwatch.connectors.http import check_status, read_bounded, session
from postwatch.connectors.options import BadOption, Given, option
from postwatch.connectors.polling import INTERVAL, follow_all, interval_option, keep_polling
from postwatch.connectors.telegram.adapter import fingerprint, message_to_post, post_id
from postwatch.connectors.telegram.client import CHANNEL_NAME, Message, Page, parse_page

__all__ = ["TelegramConnector", "channel_name"]

JITTER = 0.2
"""The random spread of a poll's interval, as a fraction of it."""
MAX_PAGES = 50
"""Pages read back at the most to reach the last message produced."""
REMEMBER = 200
"""Message versions kept per channel to drop what a poll repeats."""
TIMEOUT = 30.0
"""Seconds one preview page may take."""
URL = "https://t.me"
"""Where Telegram serves the previews of public channels."""


def channel_name(text: str) -> str:
    """A channel as given on the command line (`name` or `@name`), lowercased; raises
    `ValueError` for anything that is not a public channel's username."""
    name = text.strip().removeprefix("@")
    if not CHANNEL_NAME.fullmatch(name):
        raise ValueError(f"not a public channel username: {text!r}")
    return name.lower()


@dataclass(frozen=True, kw_only=True)
class TelegramOptions:
    """Poll public Telegram channels through their web preview."""

    channels: tuple[str, ...] = option(
        "Public channel username (name or @name); repeatable, or several separated by commas."
    )
    url: str = option("Where the channel previews (/s/CHANNEL) are served.", default=URL)
    interval: float = interval_option(
        f"Seconds between two polls of a channel (each spread by up to {JITTER:.0%} at random)."
    )


class TelegramConnector:
    """Polls the public preview (`<url>/s/<channel>`) of each channel on its own schedule,
    concurrently; a channel that fails is retried with backoff and never holds up the others.

    Each poll reads the newest page; while its oldest message is still newer than the last
    one produced, it pages back (`?before=<id>`, at most `MAX_PAGES` pages), so the messages
    posted while the connector was away are produced too, oldest first. Service messages
    are skipped. A message read again with the `edited` mark and a text not produced before
    is produced again under the same id. On the very first run of an instance, the newest
    page is what is produced.

    Polls are spaced `interval` seconds apart with ±`JITTER` (a fraction) of random spread,
    and the first polls of the channels are spread over one jittered interval; a 429 or
    5xx waits at least as long as `Retry-After` says. The cursor keeps, per channel, the
    last message id produced and the versions of the latest messages.
    """

    source: ClassVar[str] = "telegram"
    options: ClassVar[type[TelegramOptions]] = TelegramOptions

    def __init__(
        self,
        channels: Sequence[str],
        *,
        url: str = URL,
        instance: str = "telegram",
        interval: float = INTERVAL,
    ) -> None:
        self.channels = tuple(dict.fromkeys(channel_name(c) for c in channels))
        self.url = url.rstrip("/")
        self.instance = instance
        self._interval = interval
        self._timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        self._state = {c: _ChannelState() for c in self.channels}

    @classmethod
    def from_options(cls, given: Given[TelegramOptions]) -> TelegramConnector:
        options = given.options
        channels = [c for listed in options.channels for c in listed.split(",") if c.strip()]
        try:
            return cls(
                channels,
                url=options.url,
                interval=options.interval,
                instance=given.instance or cls.source,
            )
        except ValueError as exc:  # a name that is no public channel's
            raise BadOption("--channels", str(exc)) from exc

    def restore(self, cursor: Cursor) -> None:
        for channel, saved in (cursor.get("channels") or {}).items():
            if channel in self._state:
                self._state[channel] = _ChannelState(saved.get("last_id"), saved.get("seen", ()))

    def snapshot(self) -> Cursor:
        return {"channels": {c: state.saved() for c, state in self._state.items()}}

    async def run(self, runtime: Runtime) -> None:
        async with session("postwatch", timeout=self._timeout) as http:
            await follow_all(self.channels, lambda channel: self._follow(channel, http, runtime))

    def _pause(self) -> float:
        """One polling interval with its random spread."""
        spread = random.uniform(-1.0, 1.0)  # noqa: S311 - spreads polls; nothing secret
        return self._interval * (1.0 + JITTER * spread)

    async def _follow(self, channel: str, http: aiohttp.ClientSession, runtime: Runtime) -> None:
        await runtime.sleep(self._pause() * random.random())  # noqa: S311 - as above
        await keep_polling(
            runtime,
            lambda: self._poll(channel, http, runtime),
            self._pause,
            name=channel,
            rejected="telegram.channel_rejected",
            channel=channel,
        )

    async def _poll(self, channel: str, http: aiohttp.ClientSession, runtime: Runtime) -> None:
        state = self._state[channel]
        read: dict[int, Message] = {}
        page = await self._page(channel, http, runtime, before=None)
        pages = 1
        while True:
            for message in page.messages:
                read.setdefault(message.id, message)
            if state.last_id is None or not page.messages:
                break
            oldest = min(m.id for m in page.messages)
            if oldest <= state.last_id + 1:
                break
            if pages == MAX_PAGES:
                runtime.log.warning(
                    "telegram.gap", channel=channel, last_id=state.last_id, oldest_read=oldest
                )
                break
            page = await self._page(channel, http, runtime, before=oldest)
            pages += 1
            if page.messages and min(m.id for m in page.messages) >= oldest:
                break  # the page did not go back: nothing older to be had
        for message_id in sorted(read):
            await self._on_message(channel, read[message_id], state, runtime)

    async def _page(
        self, channel: str, http: aiohttp.ClientSession, runtime: Runtime, *, before: int | None
    ) -> Page:
        query = {"before": str(before)} if before is not None else {}
        # the preview is localised: the `edited` mark is read in English
        headers = {"Accept-Language": "en"}
        async with http.get(f"{self.url}/s/{channel}", params=query, headers=headers) as response:
            check_status(response, f"{channel}")
            html = (await read_bounded(response, channel)).decode("utf-8", "replace")
            page = parse_page(html, str(response.url))
        if not page.preview:
            raise SourceRejected(f"{channel}: no public preview of this channel")
        for broken in page.broken:
            runtime.event()
            runtime.skip(broken.reason, channel=channel, error=broken.detail)
        return page

    async def _on_message(
        self, channel: str, message: Message, state: _ChannelState, runtime: Runtime
    ) -> None:
        key = fingerprint(message)
        new = state.last_id is None or message.id > state.last_id
        if not new and (not message.edited or key in state.seen):
            return  # read before: only an edit not produced yet is news
        runtime.event(message.created_at)
        if message.service:
            runtime.skip("not_a_post", quiet=True, channel=channel, message_id=message.id)
        elif await runtime.emit(message_to_post(message)) is None:
            state.seen.add(key)
            if not new:
                runtime.log.info("telegram.edited", post_id=post_id(channel, message.id))
        if new:
            state.last_id = message.id


class _ChannelState:
    def __init__(self, last_id: int | None = None, seen: Sequence[str] = ()) -> None:
        self.last_id = last_id
        self.seen = RecentKeys(REMEMBER, seen)

    def saved(self) -> dict[str, Any]:
        return {"last_id": self.last_id, "seen": self.seen.keys()}
