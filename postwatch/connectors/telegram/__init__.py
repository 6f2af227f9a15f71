"""Telegram: public channels read through their web preview (`t.me/s/<channel>`)."""

from postwatch.connectors.telegram.connector import TelegramConnector, channel_name

__all__ = ["TelegramConnector", "channel_name"]
