"""Dead letters: what goes to the dead-letter topic when a consumed record cannot be handled.

A dead letter says why (`reason`, a short stable code, and `error`), where the record was
(topic, partition, offset) and carries its bytes; it is produced keyed by the record's own
key. The worker dead-letters posts it cannot decode or evaluate, the forwarder alerts it
could not deliver.
"""

from __future__ import annotations

import base64
from typing import Protocol

import msgspec

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


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A record that could not be processed, with why, where it was, and its original bytes
    (the first `VALUE_MAX` of them, base64; `value_bytes` is the whole size). `encode` gives
    the dead-letter record's value, `decode` reads one back."""

    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    value_b64: str | None
    value_bytes: int
    value_truncated: bool

    def encode(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> DeadLetter:
        """Raises msgspec.DecodeError for bytes that are no dead letter."""
        return _DECODER.decode(data)

    @property
    def value(self) -> bytes | None:
        """The bytes of the record kept here (all of them unless `value_truncated`)."""
        return None if self.value_b64 is None else base64.b64decode(self.value_b64)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(DeadLetter)


def dead_letter(record: Record, reason: str, error: str) -> DeadLetter:
    """The dead letter of `record`: it could not be handled for `reason` (`error` says
    more)."""
    value = record.value
    return DeadLetter(
        reason=reason,
        error=error,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        value_b64=base64.b64encode(value[:VALUE_MAX]).decode("ascii") if value else None,
        value_bytes=len(value) if value else 0,
        value_truncated=bool(value and len(value) > VALUE_MAX),
    )
