"""The Kafka clients postwatch makes, and the names of the client library it uses.

Every client is made here, with the connection and security options of the settings
(`Settings.kafka_client_options`: bootstrap servers, SASL, TLS). Producers wait until every
in-sync replica has a record (acks=all); those whose records must not be written twice
when a send is retried are idempotent as well. Consumers never commit on a timer: those in
a group commit the offsets of what they handled, once it is handled.

Producers and consumers are not started: `await client.start()` and `stop()`, or
`async with client:`. An admin client is started by `start()` and ended by `close()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Literal, Self

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
)
from aiokafka.producer.message_accumulator import BatchBuilder

from postwatch.kafka.partitioner import partition
from postwatch.settings import Settings

__all__ = [
    "AIOKafkaAdminClient",
    "AIOKafkaConsumer",
    "AIOKafkaProducer",
    "CommitFailedError",
    "ConsumerRebalanceListener",
    "ConsumerRecord",
    "IllegalStateError",
    "KafkaError",
    "MessageSizeTooLargeError",
    "NewTopic",
    "ProducerOwner",
    "TopicAlreadyExistsError",
    "TopicPartition",
    "full_batches",
    "new_admin",
    "new_consumer",
    "new_producer",
    "send_all",
]


def new_producer(
    settings: Settings,
    *,
    enable_idempotence: bool = False,
    linger_ms: int = 0,
    max_batch_size: int = 16_384,
) -> AIOKafkaProducer:
    """A producer with acks=all; `enable_idempotence` keeps a retried send from writing its
    record twice. `linger_ms` and `max_batch_size` are aiokafka's (its defaults here too):
    how long a record waits for others to share its batch, and how big a batch grows."""
    return AIOKafkaProducer(
        acks="all",
        partitioner=partition,  # aiokafka's own, compiled
        enable_idempotence=enable_idempotence,
        linger_ms=linger_ms,
        max_batch_size=max_batch_size,
        **settings.kafka_client_options(),
    )


def new_consumer(
    settings: Settings,
    *topics: str,
    group_id: str | None = None,
    auto_offset_reset: Literal["earliest", "latest"] = "latest",
    max_poll_records: int | None = None,
    max_partition_fetch_bytes: int = 1_048_576,
    fetch_max_wait_ms: int = 500,
) -> AIOKafkaConsumer:
    """A consumer subscribed to `topics` (none: it subscribes or is assigned partitions
    later), in the consumer group `group_id` if one is given, that never commits by itself.
    `auto_offset_reset` says where it starts on a partition without a committed offset;
    `max_poll_records` bounds what one `getmany` returns (None: no bound);
    `max_partition_fetch_bytes` what one fetch takes of a partition, and
    `fetch_max_wait_ms` how long the broker holds a fetch that finds nothing new (aiokafka's
    defaults)."""
    return AIOKafkaConsumer(
        *topics,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        max_poll_records=max_poll_records,
        max_partition_fetch_bytes=max_partition_fetch_bytes,
        fetch_max_wait_ms=fetch_max_wait_ms,
        **settings.kafka_client_options(),
    )


def new_admin(settings: Settings) -> AIOKafkaAdminClient:
    """An admin client (topics, consumer groups)."""
    return AIOKafkaAdminClient(**settings.kafka_client_options())


class ProducerOwner:
    """Base of what sends through a producer of its own (the connectors' post sink, their
    cursor store): `async with` starts the producer; leaving the block stops it, after
    `flush` when the block ends without an exception."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def __aenter__(self) -> Self:
        await self._producer.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                await self.flush()
        finally:
            await self._producer.stop()

    async def flush(self) -> None:
        """Return once the broker has acknowledged every record sent so far."""
        await self._producer.flush()


async def send_all(
    producer: AIOKafkaProducer,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None]],
    *,
    in_flight: int = 10_000,
) -> int:
    """Send the (key, value) records to `topic` in order, with at most `in_flight` of them
    not yet acknowledged; returns once every one is, with how many were sent."""
    pending: list[asyncio.Future[object]] = []
    sent = 0
    for key, value in records:
        pending.append(await producer.send(topic, value, key=key))
        if len(pending) >= in_flight:
            await asyncio.gather(*pending)
            sent += len(pending)
            pending.clear()
    await asyncio.gather(*pending)
    return sent + len(pending)


def full_batches(
    producer: AIOKafkaProducer, records: list[ConsumerRecord[bytes, bytes]]
) -> Iterator[BatchBuilder]:
    """The records (of one partition) as producer batches, each as full as `max_batch_size`
    lets it be, for `send_batch`."""
    batch = producer.create_batch()
    for record in records:
        if batch.append(key=record.key, value=record.value, timestamp=None) is None:
            yield batch
            batch = producer.create_batch()
            batch.append(key=record.key, value=record.value, timestamp=None)
    if batch.record_count():
        yield batch
