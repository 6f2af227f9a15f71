"""The flood guard across workers: each follows the flood topic into its `FloodGuard`, and
`postwatch rules restore` gives a shadowed rule back (see `postwatch.rules.flood`).

A worker reads the topic from the beginning before it takes posts (`ready`), so that a
(re)started worker shadows the rules shadowed before, then follows it: a rule another worker
shadowed is shadowed here within a poll (a fraction of a second). A record that is no flood
record is logged and passed over; a tombstone restores its rule, as a `restored` record does.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec
import structlog

from postwatch.kafka.clients import ConsumerRecord, new_producer
from postwatch.kafka.topics import RULES_FLOOD, follow, scan
from postwatch.rules.alerts import isoformat
from postwatch.rules.flood import FloodGuard, FloodRecord
from postwatch.settings import Settings

__all__ = ["FloodFollower", "NotFlooded", "flood_states", "restore"]

log = structlog.get_logger(__name__)


class NotFlooded(Exception):
    """`rules restore` of a rule the flood guard has not shadowed; `flooded` lists those it
    has."""

    def __init__(self, rule_id: str, flooded: list[str]) -> None:
        listed = f"shadowed now: {', '.join(flooded)}" if flooded else "no rule is"
        super().__init__(f"rule {rule_id} is not shadowed by the flood guard ({listed})")
        self.rule_id = rule_id
        self.flooded = flooded


def _record(record: ConsumerRecord[bytes, bytes]) -> FloodRecord | None:
    """The flood record of a topic record (a tombstone: its rule restored); None, logged,
    for one that is none."""
    try:
        if record.value is None:
            rule = (record.key or b"").decode()
            return FloodRecord(rule=rule, state="restored", at="") if rule else None
        return FloodRecord.decode(record.value)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        log.warning("flood_record.refused", offset=record.offset, error=str(exc)[:500])
        return None


class FloodFollower:
    """Follows the flood topic for one worker's guard."""

    def __init__(self, settings: Settings, guard: FloodGuard) -> None:
        self.settings = settings
        self.guard = guard
        self.ready = asyncio.Event()
        """Set once what the topic held at start is applied."""

    async def run(self) -> None:
        """Read the topic from the beginning, then follow it, until cancelled."""
        await follow(self.settings, self.settings.topic(RULES_FLOOD), self._apply, self.ready)

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        flood = _record(record)
        if flood is None:
            return
        was = flood.rule in self.guard.shadowed
        self.guard.apply(flood, record.offset)
        if was != (flood.rule in self.guard.shadowed):
            event = "rule.shadowed_by_flood_guard" if not was else "rule.restored"
            log.info(event, rule_id=flood.rule, by=flood.by, at=flood.at)


async def flood_states(settings: Settings) -> dict[str, FloodRecord]:
    """The latest flood record of each rule on the topic now."""
    states: dict[str, FloodRecord] = {}
    async for record in scan(settings, settings.topic(RULES_FLOOD)):
        flood = _record(record)
        if flood is not None:
            states[flood.rule] = flood
    return states


async def restore(settings: Settings, rule_id: str, by: str) -> FloodRecord:
    """Give back a rule the flood guard shadowed, on every worker; returns the record that
    shadowed it. Raises NotFlooded when the guard has not shadowed it."""
    states = await flood_states(settings)
    flooded = sorted(rule for rule, state in states.items() if state.state == "flooded")
    current = states.get(rule_id)
    if current is None or current.state != "flooded":
        raise NotFlooded(rule_id, flooded)
    restored = FloodRecord(
        rule=rule_id,
        state="restored",
        at=isoformat(datetime.now(UTC)),
        pack=current.pack,
        by=by,
    )
    producer = new_producer(settings)
    await producer.start()
    try:
        topic = settings.topic(RULES_FLOOD)
        await producer.send_and_wait(topic, restored.encode(), key=rule_id.encode())
    finally:
        await producer.stop()
    return current
