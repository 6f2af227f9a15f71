"""Hashing in child processes: time limits, crashes and broken files never reach the caller
as anything but a `MediaError`, and the next file is hashed as usual."""

from __future__ import annotations

import multiprocessing
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from postwatch.media import (
    DecodeError,
    DecoderCrashed,
    DecodeTimeout,
    Hasher,
    HashOptions,
    TooLarge,
    Unreadable,
    hash_path,
)
from tests.conftest import SHARED_DATA

SMALL = SHARED_DATA / "pdq" / "data" / "misc-images" / "wee.jpg"


def _slow_image() -> bytes:
    """A large noisy PNG whose eight dihedral PDQ hashes take seconds."""
    noise = Image.effect_noise((3000, 3000), 64).convert("RGB")
    out = BytesIO()
    noise.save(out, format="PNG", compress_level=0)
    return out.getvalue()


def test_results_equal_hashing_in_process() -> None:
    with Hasher() as hasher:
        assert hasher.hash_file(SMALL) == hash_path(SMALL, HashOptions())
        assert hasher.hash_bytes(SMALL.read_bytes()) == hash_path(SMALL, HashOptions())


def test_a_job_over_the_time_limit_is_stopped_and_the_next_one_runs() -> None:
    with Hasher(HashOptions(timeout=0.3, dihedral=True)) as hasher:
        started = time.monotonic()
        with pytest.raises(DecodeTimeout, match=r"0\.3 s"):
            hasher.hash_bytes(_slow_image())
        assert time.monotonic() - started < 5
        assert hasher.hash_file(SMALL).pdq == hash_path(SMALL, HashOptions()).pdq


def test_a_dying_child_is_reported_and_replaced() -> None:
    def kill_children() -> None:
        time.sleep(0.5)
        for child in multiprocessing.active_children():
            if child.name == "postwatch-hasher":
                child.kill()

    with Hasher(HashOptions(timeout=60, dihedral=True)) as hasher:
        hasher.hash_file(SMALL)  # the child is up
        killer = threading.Thread(target=kill_children)
        killer.start()
        with pytest.raises(DecoderCrashed, match="died"):
            hasher.hash_bytes(_slow_image())
        killer.join()
        assert hasher.hash_file(SMALL).pdq == hash_path(SMALL, HashOptions()).pdq


def test_errors_in_the_child_arrive_as_their_own_kinds(tmp_path: Path) -> None:
    with Hasher(HashOptions(max_bytes=15_000)) as hasher:
        with pytest.raises(DecodeError, match="not a valid jpeg"):
            hasher.hash_bytes(b"\xff\xd8\xff" + b"junk" * 100)
        with pytest.raises(TooLarge):
            hasher.hash_bytes(bytes(20_000))
        with pytest.raises(TooLarge):
            hasher.hash_file(SHARED_DATA / "pdq" / "data" / "misc-images" / "b.jpg")
        with pytest.raises(Unreadable):
            hasher.hash_file(tmp_path / "missing.png")
        assert hasher.hash_file(SMALL).pdq is not None


def test_several_threads_share_the_children() -> None:
    expected = hash_path(SMALL, HashOptions()).pdq
    with Hasher(processes=2) as hasher:
        results: list[str | None] = []
        threads = [
            threading.Thread(target=lambda: results.append(hasher.hash_file(SMALL).pdq))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [expected] * 6


def _plain_png(side: int) -> bytes:
    """A PNG of one colour: a few hundred KB that decode to `side` squared pixels."""
    out = BytesIO()
    Image.new("RGB", (side, side), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def test_an_image_of_7000_pixels_a_side_is_refused_before_it_is_decoded() -> None:
    """142 KB of PNG that took 1.7 GiB to hash under the former cap of 50 million pixels."""
    with Hasher() as hasher, pytest.raises(TooLarge, match="7000x7000 pixels"):
        hasher.hash_bytes(_plain_png(7000))


def test_a_job_that_needs_more_memory_than_allowed_is_too_large_and_the_next_one_runs() -> None:
    options = HashOptions(max_pixels=7000 * 7000, memory_bytes=600 * 1024 * 1024)
    with Hasher(options) as hasher:
        with pytest.raises(TooLarge, match="memory"):
            hasher.hash_bytes(_plain_png(7000))
        assert hasher.hash_file(SMALL).pdq == hash_path(SMALL, HashOptions()).pdq
