"""The list of feeds to poll: URLs given directly, or files holding them (OPML, or one URL
per line with an optional interval in seconds after it; `#` starts a comment)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Feed", "FeedListError", "feeds_from"]


class FeedListError(ValueError):
    """A feed list that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Feed:
    url: str
    interval: float
    """Seconds between two polls of this feed."""


def feeds_from(arguments: Iterable[str], default_interval: float) -> list[Feed]:
    """Feeds from command-line arguments, each a URL or the path of a feed list; the same
    URL given twice is polled once (with the first interval given)."""
    found: dict[str, Feed] = {}
    for argument in arguments:
        if argument.startswith(("http://", "https://")):
            listed = [Feed(argument, default_interval)]
        else:
            listed = _read_list(Path(argument), default_interval)
        for feed in listed:
            found.setdefault(feed.url, feed)
    return list(found.values())


def _read_list(path: Path, default_interval: float) -> list[Feed]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedListError(f"{path}: cannot read: {exc}") from exc
    if text.lstrip().startswith("<"):
        return _opml(path, text, default_interval)
    feeds: list[Feed] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if not words[0].startswith(("http://", "https://")) or len(words) > 2:
            raise FeedListError(f"{path}:{number}: expected 'URL [interval seconds]'")
        feeds.append(Feed(words[0], _interval(path, number, words[1:], default_interval)))
    return feeds


def _opml(path: Path, text: str, default_interval: float) -> list[Feed]:
    """Every `<outline xmlUrl=…>` at any depth; an `interval` attribute (seconds) is
    honoured where present."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - the operator's own file, not fetched
    except ET.ParseError as exc:
        raise FeedListError(f"{path}: not valid OPML: {exc}") from exc
    feeds: list[Feed] = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            interval = outline.get("interval")
            feeds.append(
                Feed(url, _interval(path, 0, [interval] if interval else [], default_interval))
            )
    return feeds


def _interval(path: Path, line: int, words: list[str], default: float) -> float:
    if not words:
        return default
    try:
        value = float(words[0])
    except ValueError:
        value = 0.0
    if value <= 0:
        raise FeedListError(f"{path}:{line}: interval must be a positive number of seconds")
    return value
