"""RSS and Atom feeds: conditional polling with feedparser."""

from postwatch.connectors.rss.connector import RssConnector
from postwatch.connectors.rss.feeds import Feed, FeedListError, feeds_from

__all__ = ["Feed", "FeedListError", "RssConnector", "feeds_from"]
