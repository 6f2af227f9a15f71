"""Kafka's default partitioner, compiled: a record's partition is the murmur2 hash of its key
(as the Java client and aiokafka's `DefaultPartitioner` compute it), so records keep the
partitions any other client would give them. aiokafka's murmur2 is pure Python: in an alert
storm, thousands of alerts a second, it took a fifth of a worker's time."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import numpy.typing as npt
from aiokafka.partitioner import DefaultPartitioner

__all__ = ["murmur2", "partition"]

_MASK = 0xFFFFFFFF
_M = 0x5BD1E995
_SEED = 0x9747B28C


@numba.njit(cache=True)
def _murmur2(data: npt.NDArray[np.uint8]) -> int:
    length = len(data)
    h = (_SEED ^ length) & _MASK
    for i in range(length // 4):
        k = (
            int(data[4 * i])
            | (int(data[4 * i + 1]) << 8)
            | (int(data[4 * i + 2]) << 16)
            | (int(data[4 * i + 3]) << 24)
        )
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & ~3
    extra = length % 4
    if extra >= 3:
        h ^= int(data[tail + 2]) << 16
    if extra >= 2:
        h ^= int(data[tail + 1]) << 8
    if extra >= 1:
        h ^= int(data[tail])
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return int(h)


def murmur2(key: bytes) -> int:
    """Kafka's murmur2 of the key, as an unsigned 32-bit number."""
    return int(_murmur2(np.frombuffer(key, dtype=np.uint8)))


_RANDOM = DefaultPartitioner()


def partition(key: bytes | None, every: Sequence[int], available: Sequence[int]) -> int:
    """The partition of a record (aiokafka's `partitioner` signature): by its key's murmur2,
    or, with no key, one at random as aiokafka's default does."""
    if key is None:
        return int(_RANDOM(key, every, available))
    return every[(murmur2(key) & 0x7FFFFFFF) % len(every)]
