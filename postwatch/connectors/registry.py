"""Every connector the runtime can run, by its stable name.

The name is the `source` of the posts a connector produces, the `connector` label of its
metrics and the command under `postwatch connect`, which offers the options the connector
declares; it ends up in stored data, so it never changes. The registry is written out here,
not discovered at import time.
"""

from __future__ import annotations

from typing import Protocol

from postwatch.connectors.base import Connector, UnknownConnector
from postwatch.connectors.bluesky import BlueskyConnector
from postwatch.connectors.mastodon import MastodonConnector
from postwatch.connectors.options import FromOptions
from postwatch.connectors.rss import RssConnector
from postwatch.connectors.telegram import TelegramConnector
from postwatch.connectors.webhook import WebhookConnector
from postwatch.connectors.x import XConnector

__all__ = ["CONNECTORS", "Registered", "check_registered"]


class Registered(Connector, FromOptions, Protocol):
    """A connector that the runtime runs and `postwatch connect` builds from its options."""


CONNECTORS: dict[str, type[Registered]] = {
    "bluesky": BlueskyConnector,
    "mastodon": MastodonConnector,
    "rss": RssConnector,
    "telegram": TelegramConnector,
    "webhook": WebhookConnector,
    "x": XConnector,
}


def _check(registry: dict[str, type[Registered]]) -> None:
    for name, cls in registry.items():
        if cls.source != name:
            raise RuntimeError(f"connector {cls.__name__} is registered as {name!r}")


_check(CONNECTORS)


def check_registered(connector: Connector) -> None:
    """Raise `UnknownConnector` unless `connector` is an instance of the class registered
    under its name: only registered names reach metrics labels and the state topic."""
    if type(connector) is not CONNECTORS.get(connector.source):
        raise UnknownConnector(
            f"{type(connector).__name__} ({connector.source!r}) is not in the registry; "
            f"known: {', '.join(sorted(CONNECTORS))}"
        )
