"""Telegram channel messages (as the public preview shows them) to Post v1.

The author of every post is the channel: `telegram:<channel>`, the username lowercased
because Telegram usernames are case-insensitive; the post id is
`telegram:<channel>/<message id>`. What the preview adds beyond Post v1 rides along in
extra fields: `forwarded_from` (`{"name", "url"}`), `signed_by` (the admin's signature)
and `edited` (true once the message was edited).
"""

from __future__ import annotations

import hashlib
from typing import Any

from postwatch.connectors.posts import post_v1
from postwatch.connectors.telegram.client import Message, channel_post

__all__ = ["SOURCE", "author_id", "fingerprint", "message_to_post", "post_id"]

SOURCE = "telegram"


def author_id(channel: str) -> str:
    return f"{SOURCE}:{channel.lower()}"


def post_id(channel: str, message_id: int) -> str:
    return f"{author_id(channel)}/{message_id}"


def fingerprint(message: Message) -> str:
    """Names one version of a message: the same text read again gives the same key, an edit
    a new one. Media URLs are left out: the preview signs them with tokens that change."""
    digest = hashlib.sha256(message.text.encode("utf-8")).hexdigest()[:16]
    return f"{message.id}:{digest}"


def message_to_post(message: Message) -> dict[str, Any]:
    """The Post v1 of one message (not a service message: those are not posts). A message
    forwarded from a channel post has `repost_of` set to that post's id."""
    forwarded = message.forwarded_from
    origin = channel_post(forwarded.url) if forwarded and forwarded.url else None
    post = post_v1(
        post_id=post_id(message.channel, message.id),
        source=SOURCE,
        url=message.url,
        created_at=message.created_at,
        author={
            "id": author_id(message.channel),
            "handle": message.channel,
            "display_name": message.channel_title,
        },
        text=message.text,
        lang=None,
        links=message.links,
        hashtags=message.hashtags,
        media=[{"url": media.url, "kind": media.kind} for media in message.media],
        reply_to=post_id(*message.reply_to) if message.reply_to else None,
        repost_of=post_id(*origin) if origin else None,
    )
    if forwarded is not None:
        post["forwarded_from"] = {"name": forwarded.name, "url": forwarded.url}
    if message.signed_by is not None:
        post["signed_by"] = message.signed_by
    if message.edited:
        post["edited"] = True
    return post
