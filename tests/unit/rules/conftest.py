from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from postwatch.rules import Engine, Post, parse_pack, post_from_dict


def make_post(**fields: Any) -> Post:
    """A valid Post v1 with defaults for every required field; `fields` override them."""
    doc: dict[str, Any] = {
        "schema": "postwatch.post/1",
        "id": "test:1",
        "source": "test",
        "author": {"id": "test:alice", "handle": "alice"},
        "created_at": datetime(2025, 7, 25, 10, tzinfo=UTC).isoformat(),
        "text": "",
    }
    doc.update(fields)
    return post_from_dict(doc)


@pytest.fixture
def engine_for() -> Callable[[str], Engine]:
    """Compile a pack written inline in a test."""

    def build(text: str) -> Engine:
        return Engine([parse_pack(text, "test.yaml")])

    return build
