"""Mirror detection: learned fingerprints, reappearance, look-alike accounts, escalation.

The scenario runs through `postwatch match`, which applies the same `Tracker` as the workers,
in file order; the images are made with Pillow from the PDQ reference images and hashed with
postwatch's own hashing.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from postwatch.cli import main
from postwatch.media.hashing import HashOptions, hash_bytes
from postwatch.rules import Engine, PackError, Post, build_alert, parse_pack, post_from_dict
from postwatch.rules.detectors.mirror import Learned, MirrorConfig, Tracker
from postwatch.rules.language.model import WatchedAccount
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
) -> dict[str, Any]:
    return {
        "schema": "postwatch.post/1",
        "id": f"test:{post_id}",
        "source": "test",
        "author": {"id": f"test:{author}", "handle": handle or author, "display_name": name},
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "text": text,
        "media": [{"kind": "image", "pdq": pdq, "pdq_quality": 100}] if pdq else [],
    }


def image_pdq(path: Path, size: tuple[int, int] | None = None, fmt: str = "PNG") -> str:
    """The PDQ of an image, resized and re-encoded first when asked."""
    with Image.open(path) as image:
        picture = image.convert("RGB")
    if size is not None:
        picture = picture.resize(size)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **({"quality": 70} if fmt == "JPEG" else {}))
    hashes = hash_bytes(buffer.getvalue(), HashOptions())
    assert hashes.pdq is not None
    return hashes.pdq


def run_match(tmp_path: Path, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    posts_file = tmp_path / "posts.jsonl"
    posts_file.write_text("".join(json.dumps(p) + "\n" for p in posts))
    out = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(
        main, ["match", "--rules", str(pack), "--input", str(posts_file), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    validate = validator("alert")
    for alert in alerts:
        validate(alert)
    return alerts


def test_a_mirror_account_reposting_an_edited_statement_and_image_is_caught(
    tmp_path: Path,
) -> None:
    original = image_pdq(IMAGES / "b.jpg")
    copy = image_pdq(IMAGES / "b.jpg", size=(300, 220), fmt="JPEG")
    assert original != copy  # the copy really is another image file
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", STATEMENT, pdq=original, name="Example Front"),
            post("2", "new", EDITED, minutes=5, handle="examp1e.front2", pdq=copy),
            post("3", "garden", "Tomatoes want sun and water every day in July.", minutes=6),
            post("4", "garden", EDITED.replace("🔥", ""), minutes=7, handle="gardenclub"),
        ],
    )
    kinds = [(a["post"]["id"], a["kind"]) for a in alerts]
    assert kinds == [
        ("test:1", "rule"),
        ("test:2", "reappearance"),  # the text
        ("test:2", "reappearance"),  # the image
        ("test:2", "lookalike_account"),
        ("test:4", "reappearance"),  # the text again, from an account that looks like no one
    ]
    text, image = alerts[1]["evidence"][0], alerts[2]["evidence"][0]
    for evidence in (text, image):
        assert evidence["original_post_id"] == "test:1"
        assert evidence["original_author_id"] == "test:front"
        assert evidence["original_alert_id"] == alerts[0]["alert_id"]
        assert evidence["relation"] == "mirror"
    assert text["type"] == "text_fingerprint"
    assert 0.4 <= text["similarity"] < 1.0
    assert (image["type"], image["field"], image["value"]) == ("pdq", "media[0]", original)
    assert 0 < image["distance"] <= 31
    [lookalike] = alerts[3]["evidence"]
    assert lookalike["watched_account_id"] == "test:front"
    assert (lookalike["field"], lookalike["matched"]) == ("author.handle", "examplefrontz")


def test_the_same_author_posting_again_is_a_repeat(tmp_path: Path) -> None:
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", STATEMENT),
            post("2", "front", EDITED, minutes=1),
        ],
    )
    assert [a["kind"] for a in alerts] == ["rule", "rule", "reappearance"]
    assert alerts[2]["evidence"][0]["relation"] == "repeat"


def test_short_texts_are_not_fingerprinted(tmp_path: Path) -> None:
    alerts = run_match(
        tmp_path,
        [post("1", "front", "march on saturday"), post("2", "x", "march on saturday", minutes=1)],
    )
    assert [a["kind"] for a in alerts] == ["rule"]


def _observe(tracker: Tracker, engine: Engine, doc: dict[str, Any]) -> list[dict[str, Any]]:
    item: Post = post_from_dict(doc)
    matched = [(m, build_alert(m)) for m in engine.evaluate(item)]
    extra, _ = tracker.observe(item, matched, T0)
    return [a for _, a in matched] + extra


def test_learned_entries_teach_another_tracker_and_can_be_forgotten() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    first, second = Tracker(MirrorConfig()), Tracker(MirrorConfig())
    _observe(first, engine, post("1", "front", STATEMENT, pdq=image_pdq(IMAGES / "b.jpg")))
    shared = [Learned.from_json(json.loads(json.dumps(e.to_json()))) for e in first.learned()]
    assert [e.kind for e in shared] == ["text", "pdq"]
    assert all(second.learn(e) for e in shared)
    assert not second.learn(shared[0])  # known already
    assert [a["kind"] for a in _observe(second, engine, post("2", "new", EDITED))] == [
        "reappearance"
    ]
    second.forget(shared[0].key)
    assert _observe(second, engine, post("3", "other", EDITED)) == []


def test_lookalikes_alert_once_per_author_and_watched_account() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    accounts = [account for pack in engine.packs for account in pack.accounts]
    assert accounts == [WatchedAccount("test:front", "examplefront", "Example Front")]
    tracker = Tracker(MirrorConfig(), accounts)
    hello = "hello there"
    found = [
        [a["kind"] for a in _observe(tracker, engine, doc)]
        for doc in (
            post("1", "a", hello, handle="example_front_official"),
            post("2", "a", hello, handle="example_front_official"),
            post("3", "b", hello, handle="someone", name="Ex4mple Fr0nt"),
            post("4", "c", hello, handle="exampleforest"),
            post("5", "d", hello, handle="gardening_club", name="Front Garden"),
            post("6", "front", hello, handle="examplefront"),
        )
    ]
    assert found == [["lookalike_account"], [], ["lookalike_account"], [], [], ["rule"]]


def test_an_author_with_many_alerts_in_the_window_escalates_once() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig(escalation_count=3, escalation_window_s=600))
    kinds = [
        [a["kind"] for a in _observe(tracker, engine, post(str(i), "front", "hi", minutes=m))]
        for i, m in enumerate([0, 20, 25, 29, 31, 42, 43, 44])
    ]
    # 0 has left the window when 29 makes three within ten minutes (20, 25, 29); 31 is within
    # that escalation's window; 42, 43, 44 are three more after it
    assert kinds == [["rule"]] * 3 + [["rule", "escalation"]] + [["rule"]] * 3 + [
        ["rule", "escalation"]
    ]


def test_learn_must_be_a_boolean() -> None:
    with pytest.raises(PackError, match="'learn' must be true or false"):
        parse_pack(PACK.replace("learn: true", "learn: maybe"), "pack.yaml")
