"""The compiled partitioner puts every keyed record where aiokafka's (and the Java
client's) default partitioner puts it."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from postwatch.kafka.partitioner import murmur2 as compiled_murmur2
from postwatch.kafka.partitioner import partition


@settings(deadline=None)  # the first example loads the compiled loop
@given(st.binary(max_size=200))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert compiled_murmur2(key) == murmur2(key)


@given(st.binary(min_size=1, max_size=64), st.integers(1, 64))
def test_a_keyed_record_goes_to_the_default_partition(key: bytes, count: int) -> None:
    every = list(range(count))
    assert partition(key, every, every) == DefaultPartitioner()(key, every, every)


def test_alert_ids_spread_over_the_partitions() -> None:
    keys = [f"{n:032x}".encode() for n in range(1000)]
    counts = [0] * 8
    for key in keys:
        counts[partition(key, range(8), range(8))] += 1
    assert min(counts) > 80  # spread, not piled on one partition


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert partition(None, [0, 1, 2], [2]) == 2
