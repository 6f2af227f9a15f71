"""Test sinks for the matching stage: each send is recorded and acknowledged at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import orjson

from postwatch.streams.agents.suppress import Window


@dataclass(frozen=True)
class Record:
    """A consumed record, as the worker hands them to the stage."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int


class Sink:
    """Records what was sent to one topic, as (key, decoded value)."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, Any]] = []

    async def __call__(self, key: bytes | None, value: bytes) -> Awaitable[Any]:
        self.records.append((key, orjson.loads(value)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    @property
    def values(self) -> list[Any]:
        return [value for _, value in self.records]


class Windows:
    """A WindowStore in a dict; the worker's keeps a dict too and writes it to a changelog."""

    def __init__(self) -> None:
        self.data: dict[str, Window] = {}
        self.deleted: list[tuple[str, int]] = []

    def get(self, key: str) -> Window | None:
        return self.data.get(key)

    async def put(self, key: str, window: Window) -> None:
        self.data[key] = window

    async def delete(self, key: str, partition: int) -> None:
        self.deleted.append((key, partition))
        del self.data[key]

    def items(self) -> list[tuple[str, Window]]:
        return list(self.data.items())

    def __len__(self) -> int:
        return len(self.data)


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
