"""Dead letters: what goes to the dead-letter topic when a consumed record cannot be handled.

A dead letter says why (`reason`, a short stable code, and `error`), where the record was
(topic, partition, offset) and carries its bytes; it is produced keyed by the record's own
key. The worker dead-letters posts it cannot decode or evaluate, the forwarder alerts it
could not deliver.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Protocol

import orjson

__all__ = ["VALUE_MAX", "DeadLetter", "Record", "dead_letter"]

VALUE_MAX = 256 * 1024
"""Bytes of the original record a dead letter carries at most (base64 makes them a third
more); `value_bytes` gives the whole size, and the record stays at its topic, partition
and offset. A dead letter must fit in one Kafka record, as the record it is about did."""


class Record(Protocol):
    """One consumed record (aiokafka's `ConsumerRecord` is one)."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be processed, with why, and its original bytes (the first
    `VALUE_MAX` of them)."""

    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    value: bytes | None

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "reason": self.reason,
                "error": self.error,
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "value_b64": (
                    base64.b64encode(self.value[:VALUE_MAX]).decode("ascii") if self.value else None
                ),
                "value_bytes": len(self.value) if self.value else 0,
                "value_truncated": bool(self.value and len(self.value) > VALUE_MAX),
            }
        )


def dead_letter(record: Record, reason: str, error: str) -> DeadLetter:
    """The dead letter of `record`: it could not be handled for `reason` (`error` says
    more)."""
    return DeadLetter(reason, error, record.topic, record.partition, record.offset, record.value)
