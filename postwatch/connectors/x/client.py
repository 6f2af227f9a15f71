"""The X API v2 filtered stream's wire formats: the stream request, its newline-delimited
JSON, the stream rules, and the reconnection pace X documents for each kind of error."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from postwatch.connectors.base import ConnectorError, SourceUnavailable
from postwatch.connectors.streaming import LineSplitter

__all__ = [
    "RULES_PATH",
    "STREAM_PATH",
    "STREAM_QUERY",
    "LineDecoder",
    "Pace",
    "Rule",
    "RuleChanges",
    "RuleFileError",
    "plan_rules",
    "read_rules",
]

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = STREAM_PATH + "/rules"

STREAM_QUERY = {
    "expansions": "author_id,attachments.media_keys,referenced_tweets.id,"
    "referenced_tweets.id.author_id",
    "tweet.fields": "id,text,note_tweet,author_id,created_at,lang,entities,attachments,"
    "referenced_tweets,in_reply_to_user_id,conversation_id",
    "user.fields": "id,name,username",
    "media.fields": "media_key,type,url,preview_image_url,variants",
}
"""Asks for everything a post needs in the one payload: the author (`includes.users`),
the media (`includes.media`), the referenced posts (`includes.tweets`) and expanded URLs."""


class RuleFileError(ConnectorError):
    """A rules file that cannot be read; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Rule:
    value: str
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class RuleChanges:
    add: tuple[Rule, ...]
    delete: tuple[str, ...]
    """Ids of the rules in place that are no longer wanted."""


def read_rules(path: Path) -> list[Rule]:
    """The rules of a YAML file: a list whose entries are a rule's value, or a mapping with
    `value` and an optional `tag`. A value listed twice is an error (X refuses it)."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleFileError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(loaded, list):
        raise RuleFileError(f"{path}: expected a list of rules")
    rules: dict[str, Rule] = {}
    for number, entry in enumerate(loaded, start=1):
        item = {"value": entry} if isinstance(entry, str) else entry
        value = item.get("value") if isinstance(item, dict) else None
        tag = item.get("tag") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value.strip() or not isinstance(tag, str | None):
            raise RuleFileError(f"{path}: rule {number}: expected a value, or value and tag")
        if value.strip() in rules:
            raise RuleFileError(f"{path}: rule {number}: {value.strip()!r} is listed twice")
        rules[value.strip()] = Rule(value.strip(), tag)
    return list(rules.values())


def plan_rules(current: Any, wanted: Sequence[Rule]) -> RuleChanges:
    """What to send so that the rules in place (`GET …/rules` data: `id`, `value`, `tag`)
    become `wanted`: a rule whose tag changed is deleted and added again. Raises
    `SourceUnavailable` (`bad_response`) if `current` is no list of such rules."""
    if not isinstance(current, list):
        raise SourceUnavailable("rules: the rules in place are no list", reason="bad_response")
    have = {_rule(r): str(r["id"]) for r in current}
    return RuleChanges(
        add=tuple(rule for rule in wanted if rule not in have),
        delete=tuple(rule_id for rule, rule_id in have.items() if rule not in wanted),
    )


def _rule(entry: Any) -> Rule:
    """A rule in place, as `GET …/rules` lists it; raises `SourceUnavailable` for another
    shape."""
    item = entry if isinstance(entry, dict) else {}
    native, value, tag = item.get("id"), item.get("value"), item.get("tag")
    if not (
        isinstance(native, str | int) and isinstance(value, str) and isinstance(tag, str | None)
    ):
        raise SourceUnavailable("rules: a rule in place without id or value", reason="bad_response")
    return Rule(value, tag)


@dataclass
class LineDecoder:
    """Splits the stream body into lines as bytes arrive: `feed` yields each complete line
    that is not blank (blank lines are X's keep-alives). A line longer than `max_line`
    bytes is dropped and reported as `None` (the caller counts it as malformed)."""

    max_line: int = 4 * 1024 * 1024
    _lines: LineSplitter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._lines = LineSplitter(self.max_line)

    def feed(self, chunk: bytes) -> Iterator[bytes | None]:
        for raw in self._lines.feed(chunk):
            line = None if raw is None else raw.strip()
            if line != b"":
                yield line

    def rest(self) -> bytes:
        """What came after the last line break: a line the connection cut short."""
        return self._lines.rest().strip()


@dataclass(frozen=True, slots=True)
class Pace:
    """How soon to reconnect, as X asks of filtered-stream clients: after a network error,
    linearly (`network_step` more each attempt, up to `network_max`); after an HTTP error,
    exponentially from `http_initial` up to `http_max`; after a 429, exponentially from
    `rate_limited_initial` (and never before the limit resets)."""

    network_step: float = 0.25
    network_max: float = 16.0
    http_initial: float = 5.0
    http_max: float = 320.0
    rate_limited_initial: float = 60.0
    rate_limited_max: float = 960.0

    def wait(self, error: SourceUnavailable, attempt: int) -> SourceUnavailable:
        """`error` with the least wait before attempt number `attempt` (0 for the first
        retry) as its `retry_after`, so the runtime's backoff never goes sooner."""
        doubling = 2.0 ** min(attempt, 16)
        if error.reason == "rate_limited":
            wait = min(self.rate_limited_max, self.rate_limited_initial * doubling)
        elif error.reason.startswith("http_"):
            wait = min(self.http_max, self.http_initial * doubling)
        else:
            wait = min(self.network_max, self.network_step * (attempt + 1))
        least = max(wait, error.retry_after or 0.0)
        return SourceUnavailable(str(error), reason=error.reason, retry_after=least)
