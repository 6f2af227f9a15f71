"""Videos: exact hashes always; vPDQ frame hashes with the optional vpdq package."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwatch.media import (
    VPDQ_AVAILABLE,
    DecodeError,
    HashOptions,
    VpdqFrame,
    hash_bytes,
    hash_path,
)
from postwatch.media.hashing import KEYFRAMES, keyframes

FILES = Path(__file__).parents[2] / "files" / "media"
CLIP = FILES / "clip.mp4"  # 3 s of FFmpeg's test pattern at 5 frames/s


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_a_video_without_vpdq_gets_exact_hashes() -> None:
    hashed = hash_path(CLIP, HashOptions(vpdq=False))
    assert (hashed.kind, hashed.format, hashed.pdq, hashed.vpdq) == ("video", "mp4", None, None)
    assert hashed.md5 == "83a5425eacbc89e7ee7e9834898eb2dc"


@pytest.mark.skipif(not VPDQ_AVAILABLE, reason="the vpdq package (extra `video`) is not installed")
def test_vpdq_hashes_one_frame_a_second() -> None:
    hashed = hash_path(CLIP, HashOptions())
    assert hashed.vpdq is not None
    assert [(f.frame, f.timestamp, f.quality) for f in hashed.vpdq] == [
        (0, 0.0, 100),
        (5, 1.0, 100),
        (10, 2.0, 100),
    ]
    # the frame at 1 s, decoded by FFmpeg on its own, hashes (almost) the same with PDQ
    frame = hash_path(FILES / "clip-frame5.png", HashOptions())
    assert frame.pdq is not None
    assert distance(hashed.vpdq[1].pdq, frame.pdq) <= 16
    assert distance(hashed.vpdq[0].pdq, hashed.vpdq[1].pdq) > 31


@pytest.mark.skipif(not VPDQ_AVAILABLE, reason="the vpdq package (extra `video`) is not installed")
def test_a_broken_video_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not a valid video"):
        hash_bytes(b"\0\0\0\x18ftypmp42" + b"garbage" * 100, HashOptions())


def frame(pdq: str, quality: int = 100, at: float = 0.0) -> VpdqFrame:
    return VpdqFrame(int(at), at, pdq, quality)


def test_keyframes_are_new_shots_of_good_quality_and_at_most_so_many() -> None:
    a, near_a, b = "0" * 64, "0" * 62 + "ff", "f" * 64  # near_a is 8 bits from a
    frames = [frame(a), frame(near_a, at=1), frame(b, quality=20, at=2), frame(b, at=3)]
    assert [f.timestamp for f in keyframes(frames)] == [0.0, 3.0]
    alternating = [frame(a if k % 2 else b, at=k) for k in range(3 * KEYFRAMES)]
    assert len(keyframes(alternating)) == KEYFRAMES
    assert keyframes([]) == []


@pytest.mark.skipif(not VPDQ_AVAILABLE, reason="the vpdq package (extra `video`) is not installed")
def test_the_keyframes_of_a_clip_are_its_distinct_frames() -> None:
    hashed = hash_path(CLIP, HashOptions())
    assert hashed.vpdq is not None
    kept = keyframes(hashed.vpdq)
    assert kept[:2] == list(hashed.vpdq[:2])  # the first two differ by more than 31 bits
    assert all(f.quality >= 50 for f in kept)
