"""A video's keyframes (`media[i].frames`) are looked up as images are: in a pack's banks
and among learned images, the evidence naming the frame."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from postwatch.media import VPDQ_AVAILABLE, HashOptions, hash_path
from postwatch.media.hashing import keyframes
from postwatch.rules import Engine
from tests.unit.rules.conftest import make_post
from tests.unit.rules.detectors.scenario import STATEMENT, post, run_match

FILES = Path(__file__).parents[3] / "files" / "media"
needs_vpdq = pytest.mark.skipif(not VPDQ_AVAILABLE, reason="vpdq (extra `video`) not installed")


def clip_frames() -> list[dict[str, object]]:
    """The keyframes of the test clip as a media item carries them."""
    hashed = hash_path(FILES / "clip.mp4", HashOptions(ocr=()))
    assert hashed.vpdq is not None
    return [{"pdq": f.pdq, "quality": f.quality, "at": f.timestamp} for f in keyframes(hashed.vpdq)]


def frame_pdq() -> str:
    """The PDQ of the clip's frame at 1 s, decoded by FFmpeg on its own: a still of it."""
    pdq = hash_path(FILES / "clip-frame5.png", HashOptions(ocr=(), features=False)).pdq
    assert pdq is not None
    return pdq


@needs_vpdq
def test_a_still_in_a_bank_matches_the_video_it_was_taken_from(
    engine_for: Callable[[str], Engine],
) -> None:
    engine = engine_for(
        f"""
pack: v
version: 1
banks:
  stills:
    pdq: ["{frame_pdq()}"]
rules:
  - id: still
    title: a known still
    match: {{hashes: {{bank: stills}}}}
"""
    )
    frames = clip_frames()
    video = make_post(media=[{"kind": "image"}, {"kind": "video", "frames": frames}])
    [match] = engine.evaluate(video)
    [evidence] = match.evidence
    assert evidence.field == "media[1].frames[1]"
    assert evidence.distance is not None
    assert evidence.distance <= 31
    assert engine.evaluate_many([video, make_post(id="test:2")]) == [[match], []]
    assert engine.evaluate(make_post(media=[{"kind": "video"}])) == []


@needs_vpdq
def test_a_video_holding_a_learned_image_reappears(tmp_path: Path) -> None:
    still = post("1", "front", STATEMENT, pdq=frame_pdq())
    video = post("2", "new", "watch", minutes=5)
    video["media"] = [{"kind": "video", "frames": clip_frames()}]
    alerts = run_match(tmp_path, [still, video])
    [reappearance] = [a for a in alerts if a["kind"] == "reappearance"]
    [evidence] = reappearance["evidence"]
    assert (evidence["type"], evidence["field"]) == ("pdq", "media[0].frames[1]")
    assert evidence["original_post_id"] == "test:1"
