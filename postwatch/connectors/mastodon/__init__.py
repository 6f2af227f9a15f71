"""Mastodon: the streaming API (server-sent events) with REST backfill after reconnects."""

from postwatch.connectors.mastodon.client import StreamSpec
from postwatch.connectors.mastodon.connector import MastodonConnector

__all__ = ["MastodonConnector", "StreamSpec"]
