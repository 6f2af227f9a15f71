"""`send_all`: records go to the topic in order, a window of them in flight at a time, and it
returns once every one is acknowledged."""

from __future__ import annotations

import asyncio

from postwatch.kafka.clients import new_producer, send_all
from postwatch.kafka.topics import scan
from postwatch.settings import Settings


def test_every_record_is_acknowledged_and_on_the_topic_in_order(settings: Settings) -> None:
    topic = settings.topic("posts")
    records = [(b"same key", f"record {n}".encode()) for n in range(25)]

    async def run() -> tuple[int, list[bytes | None]]:
        producer = new_producer(settings)
        await producer.start()
        try:
            sent = await send_all(producer, topic, iter(records), in_flight=10)
        finally:
            await producer.stop()
        return sent, [record.value async for record in scan(settings, topic)]

    sent, values = asyncio.run(run())
    assert sent == 25
    assert values == [value for _, value in records]
