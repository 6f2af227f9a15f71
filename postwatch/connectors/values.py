"""Values read from a source's JSON, whose shape is never trusted: each function takes
whatever is there and gives what an adapter works with, or a stand-in (None, empty) where
it is something else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from postwatch.connectors.base import MalformedEvent

__all__ = ["array", "malformed_as", "native", "native_id", "object_or_empty", "string"]


@contextmanager
def malformed_as(reason: str) -> Iterator[None]:
    """Reading hostile input: whatever the block raises becomes `MalformedEvent(reason)`
    (one record's failure), except a `MalformedEvent`, which already says what it is."""
    try:
        yield
    except MalformedEvent:
        raise
    except Exception as exc:
        raise MalformedEvent(reason, f"unexpected shape: {exc!r:.200}") from exc


def native(value: Any) -> str | None:
    """An id or account name (a string, or a number) as text; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


def native_id(value: Any, reason: str) -> str:
    """`native(value)`; raises `MalformedEvent(reason)` where that is None."""
    found = native(value)
    if found is None:
        raise MalformedEvent(reason, f"not an id: a {type(value).__name__}")
    return found


def string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def object_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
