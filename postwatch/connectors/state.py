"""Resume cursors, stored durably in the compacted topic `<prefix>.connector-state`.

One record per checkpoint, keyed by the connector instance name; compaction keeps the last
one per instance. The value is JSON:
`{"schema": "postwatch.connector-state/1", "connector", "instance", "saved_at", "cursor"}`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from postwatch.connectors.base import Cursor, StateError
from postwatch.kafka.clients import KafkaError, ProducerOwner, new_producer
from postwatch.kafka.topics import CONNECTOR_STATE, scan
from postwatch.rules.alerts import isoformat
from postwatch.settings import Settings

__all__ = ["CursorStore"]


class CursorStore(ProducerOwner):
    """Reads and writes the cursors of connector instances.

    `save` returns once the broker acknowledged the record (acks=all), so a cursor that was
    saved survives a crash of the connector right after.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(new_producer(settings, enable_idempotence=True))
        self._settings = settings
        self._topic = settings.topic(CONNECTOR_STATE)

    async def load(self, instance: str) -> Cursor | None:
        """The last cursor saved for `instance`, or None if it never saved one."""
        key = instance.encode("utf-8")
        found: Cursor | None = None
        try:
            async for record in scan(self._settings, self._topic):
                if record.key == key:
                    found = None if record.value is None else orjson.loads(record.value)
        except (KafkaError, orjson.JSONDecodeError) as exc:
            raise StateError(f"cannot read cursors from {self._topic}: {exc!r}") from exc
        return None if found is None else dict(found["cursor"])

    async def save(self, connector: str, instance: str, cursor: Cursor) -> None:
        """Store `cursor` as the latest of `instance`; returns once it is acknowledged."""
        value = {
            "schema": "postwatch.connector-state/1",
            "connector": connector,
            "instance": instance,
            "saved_at": isoformat(datetime.now(UTC)),
            "cursor": cursor,
        }
        try:
            await self._producer.send_and_wait(
                self._topic, orjson.dumps(value), key=instance.encode("utf-8")
            )
        except KafkaError as exc:
            raise StateError(f"cannot write the cursor of {instance}: {exc!r}") from exc
