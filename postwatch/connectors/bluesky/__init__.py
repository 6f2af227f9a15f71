"""Bluesky: Jetstream (JSON over a websocket) with a rewound time cursor."""

from postwatch.connectors.bluesky.connector import BlueskyConnector

__all__ = ["BlueskyConnector"]
