"""What the mirror detection tests share: a pack that learns from a listed account, its
statement and an edited copy, posts, PDQ hashes of real images, and two ways to run it
(`postwatch match`, and a `Tracker` fed one post at a time)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from PIL import Image

from postwatch.cli import main
from postwatch.media.hashing import HashOptions, MediaHashes, hash_bytes
from postwatch.rules import Engine, post_from_dict
from postwatch.rules.alerts import encode
from postwatch.rules.detectors.mirror import Tracker
from postwatch.rules.evaluate import Raised, evaluate_batch
from postwatch.schemas import validator
from tests.conftest import SHARED_DATA

IMAGES = SHARED_DATA / "pdq" / "data" / "misc-images"
STATEMENT = (
    "The Example Front will march on the capital next Saturday at noon. Bring flags, "
    "bring your friends, and do not talk to the press about the plan."
)
EDITED = (
    "The Example Front will march on the capital this Saturday at noon. Bring banners, "
    "bring your friends, and never talk to the press about the plan 🔥"
)
PACK = """
pack: mirrors
version: 1
watchlists:
  listed:
    - {id: "test:front", handle: "examplefront", display_name: "Example Front"}
rules:
  - id: listed-account
    title: Posts of listed accounts
    severity: high
    learn: true
    match:
      watchlist: listed
"""
T0 = datetime(2025, 7, 25, 10, tzinfo=UTC)


def post(
    post_id: str,
    author: str,
    text: str,
    *,
    minutes: int = 0,
    handle: str | None = None,
    name: str | None = None,
    pdq: str | None = None,
    image: MediaHashes | None = None,
) -> dict[str, Any]:
    """A Post v1 document; its one image given by its PDQ or all its hashes (`image`)."""
    media = {"kind": "image", "pdq": pdq, "pdq_quality": 100} if pdq else None
    if image is not None:
        media = {
            "kind": "image",
            "pdq": image.pdq,
            "pdq_mirror": image.pdq_mirror,
            "features": image.features,
            "features_mirror": image.features_mirror,
            "text": image.text,
        }
    return {
        "schema": "postwatch.post/1",
        "id": f"test:{post_id}",
        "source": "test",
        "author": {"id": f"test:{author}", "handle": handle or author, "display_name": name},
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "text": text,
        "media": [media] if media else [],
    }


def image_pdq(path: Path, size: tuple[int, int] | None = None, fmt: str = "PNG") -> str:
    """The PDQ of an image, resized and re-encoded first when asked."""
    with Image.open(path) as image:
        picture = image.convert("RGB")
    if size is not None:
        picture = picture.resize(size)
    hashes = image_hashes(picture, fmt)
    assert hashes.pdq is not None
    return hashes.pdq


def image_hashes(picture: Image.Image, fmt: str = "PNG") -> MediaHashes:
    """What postwatch's hashing gives for the picture saved in this format."""
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **({"quality": 70} if fmt == "JPEG" else {}))
    return hash_bytes(buffer.getvalue(), HashOptions())


def run_match(
    tmp_path: Path, posts: list[dict[str, Any]], packs: Sequence[str] = (PACK,)
) -> list[dict[str, Any]]:
    """The alerts of `postwatch match` over the posts with `packs`, each valid Alert v1."""
    options: list[str] = []
    for i, text in enumerate(packs):
        pack = tmp_path / f"pack{i}.yaml"
        pack.write_text(text)
        options += ["--rules", str(pack)]
    posts_file = tmp_path / "posts.jsonl"
    posts_file.write_text("".join(json.dumps(p) + "\n" for p in posts))
    out = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(
        main, ["match", *options, "--input", str(posts_file), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    validate = validator("alert")
    for alert in alerts:
        validate(alert)
    return alerts


def observe(tracker: Tracker, engine: Engine, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule alerts and then the tracker's alerts of one post, each valid Alert v1."""
    validate = validator("alert")
    alerts: list[dict[str, Any]] = []
    for outcome in evaluate_batch(engine, tracker, [post_from_dict(doc)], T0):
        assert isinstance(outcome, Raised), outcome
        alerts += [json.loads(encode(alert)) for alert in outcome.alerts]
    for alert in alerts:
        validate(alert)
    return alerts
