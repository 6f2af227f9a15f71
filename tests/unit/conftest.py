"""A small rule pack (`ops`) and posts, for the tests of alerts and of the worker's stages;
matching runs the real engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from postwatch.rules import Alert, Engine, Match, Post, parse_pack, post_from_dict
from postwatch.rules.alerts import decode, encode

PACK = """
pack: ops
version: 4
rules:
  - id: ops-names
    title: Names of listed organisations
    severity: high
    tags: [names, listed]
    match: {keywords: ["example front", "sample brigade"]}
  - id: ops-domain
    title: Links to the listed site
    severity: low
    match: {domains: ["example.org"]}
  - id: ops-trial
    title: Watched phrase (shadow)
    severity: medium
    status: shadow
    match: {keywords: ["front line"]}
"""


def make_post(**fields: Any) -> Post:
    """A valid Post v1 with defaults for every required field; `fields` override them."""
    doc: dict[str, Any] = {
        "schema": "postwatch.post/1",
        "id": "test:1",
        "source": "mastodon",
        "url": "https://mastodon.example/@alice/1",
        "author": {"id": "mastodon:alice", "handle": "alice"},
        "created_at": "2025-07-25T10:00:00Z",
        "observed_at": datetime.now(UTC).isoformat(),
        "text": "We stand with the Example Front today.",
    }
    doc.update(fields)
    return post_from_dict(doc)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine([parse_pack(PACK, "ops.yaml")])


def only_match(engine: Engine, post: Post) -> Match:
    matches = engine.evaluate(post)
    assert len(matches) == 1, matches
    return matches[0]


def alert_doc(match: Match, detected_at: datetime | None = None) -> dict[str, Any]:
    """The alert for a match, as JSON on the alerts topic."""
    doc: dict[str, Any] = orjson.loads(encode(Alert.of_match(match, detected_at)))
    return doc


def summary_doc(first: dict[str, Any], **window: Any) -> dict[str, Any]:
    """The summary of the window the alert `first` (as JSON) opened, as JSON."""
    doc: dict[str, Any] = orjson.loads(encode(decode(orjson.dumps(first)).summary(**window)))
    return doc
