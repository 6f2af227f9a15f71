"""Records the stream skipped are read again from the real broker and processed, in order,
before the record after them."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from postwatch.settings import Settings
from postwatch.streams.gaps import GapFiller

GROUP_SUFFIX = "-gaps"


async def fill_scenario(settings: Settings) -> list[list[int]]:
    topic = settings.topic("posts")
    tp = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for n in range(12):
            await producer.send_and_wait(topic, b"%d" % n, key=b"k", partition=0)
    finally:
        await producer.stop()

    processed: list[int] = []

    async def process(
        key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int
    ) -> int:
        assert value == b"%d" % offset
        processed.append(offset)
        return 0

    group = settings.group + GROUP_SUFFIX
    gaps = GapFiller(settings, group, process)
    steps: list[list[int]] = []

    async def step(offset: int, generation: int) -> None:
        processed.clear()
        await gaps.before(topic, 0, offset, generation)
        steps.append(list(processed))

    await step(1, generation=1)  # a group with no commit starts at the partition's first
    await step(2, generation=1)  # contiguous: nothing to do
    await step(5, generation=1)  # 3 and 4 were skipped
    committer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group)
    await committer.start()
    try:
        committer.assign([tp])
        await committer.commit({tp: OffsetAndMetadata(7, "")})
    finally:
        await committer.stop()
    await step(9, generation=2)  # a new generation starts at the committed offset: 7, 8
    await step(9, generation=2)  # a redelivery: nothing to do

    # the last records skipped, with none after them: found from the consumer's position
    async def catch_up(position: int, idle_s: float) -> None:
        processed.clear()
        await gaps.catch_up({(topic, 0): position}, generation=2, idle_s=idle_s)
        steps.append(list(processed))

    await catch_up(10, idle_s=0)  # the record after 9 is the position: nothing missing
    await catch_up(10 + 2, idle_s=60)  # 10 and 11 may still be on their way
    await catch_up(10 + 2, idle_s=0)  # the partition is quiet: 10 and 11 were skipped
    return steps


def test_skipped_records_are_processed_before_the_next_one(settings: Settings) -> None:
    assert asyncio.run(fill_scenario(settings)) == [
        [0],
        [],
        [3, 4],
        [7, 8],
        [],
        [],
        [],
        [10, 11],
    ]
