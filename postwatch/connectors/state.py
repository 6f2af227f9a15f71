"""Resume cursors, stored durably in the compacted topic `<prefix>.connector-state`.

One record per checkpoint, keyed by the connector instance name; compaction keeps the last
one per instance. The value is JSON:
`{"schema": "postwatch.connector-state/1", "connector", "instance", "saved_at", "cursor"}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError

from postwatch.connectors.base import DELETIONS, Cursor, StateError
from postwatch.rules.alerts import isoformat
from postwatch.settings import Settings
from postwatch.streams.topics import create_topics, ensure_topics, scan

__all__ = ["STATE", "CursorStore", "ensure_connector_topics"]

STATE = "connector-state"
"""Topic (after the prefix) of the connectors' resume cursors; compacted, keyed by instance."""


async def ensure_connector_topics(settings: Settings) -> None:
    """Create the posts topic and the connectors' own topics if they do not exist yet."""
    await ensure_topics(settings)
    await create_topics(
        settings,
        [
            NewTopic(settings.topic(STATE), 1, 1, topic_configs={"cleanup.policy": "compact"}),
            NewTopic(settings.topic(DELETIONS), settings.posts_partitions, 1),
        ],
    )


class CursorStore:
    """Reads and writes the cursors of connector instances.

    `save` returns once the broker acknowledged the record (acks=all), so a cursor that was
    saved survives a crash of the connector right after.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topic = settings.topic(STATE)
        self._producer = AIOKafkaProducer(
            acks="all", enable_idempotence=True, **settings.kafka_client_options()
        )

    async def __aenter__(self) -> CursorStore:
        await self._producer.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._producer.stop()

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
