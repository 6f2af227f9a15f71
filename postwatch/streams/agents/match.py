"""The matching stage: Post v1 bytes in, Alert v1 records out, bad records to dead letter.

Each alert is produced and acknowledged by the broker before the agent takes the next
record, and faust commits a record's offset only after the agent has moved past it: a crash
can repeat alerts (with the same deterministic id) but never lose one.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog

from postwatch.rules import Engine, InvalidPost, build_alert, parse_post

__all__ = ["DeadLetter", "MatchStage", "Send"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be processed, with why, and its original bytes."""

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
                "value_b64": base64.b64encode(self.value).decode("ascii") if self.value else None,
            }
        )


class Send(Protocol):
    """Produce one record; the awaitable it returns completes when the broker acknowledges."""

    async def __call__(self, key: bytes | None, value: bytes) -> Awaitable[Any]: ...


@dataclass
class MatchStage:
    """Evaluate one record, produce its alerts or its dead letter."""

    engine: Engine
    send_alert: Send
    send_deadletter: Send

    async def process(
        self, key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int
    ) -> int:
        """Handle one record; returns the number of alerts produced."""
        try:
            post = parse_post(value if value is not None else b"")
        except InvalidPost as exc:
            letter = DeadLetter(exc.reason, exc.error, topic, partition, offset, value)
            log.warning(
                "record.deadletter",
                reason=exc.reason,
                topic=topic,
                partition=partition,
                offset=offset,
            )
            await (await self.send_deadletter(key, letter.to_json()))
            return 0
        acks = []
        for match in self.engine.evaluate(post):
            alert = build_alert(match)
            acks.append(await self.send_alert(alert["alert_id"].encode(), orjson.dumps(alert)))
            log.info("alert", rule_id=match.rule.id, post_id=post.id, alert_id=alert["alert_id"])
        for ack in acks:
            await ack
        return len(acks)
