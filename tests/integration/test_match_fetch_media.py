"""`postwatch match --fetch-media` against a local HTTP server: the images of a file's posts
are downloaded and hashed as the connectors do it, so that a listed account's photo is found
again cropped and captioned (local features) and mirrored (PDQ of the mirror image); a
missing image is counted, and the post is matched all the same; lines that are no post are
reported and skipped as without --fetch-media."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from postwatch.bench.edits import EDITS
from tests.factories import sample_photo
from tests.local_server import served
from tests.unit.rules.detectors.scenario import PACK, STATEMENT, post


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _app() -> web.Application:
    photo = sample_photo("astronaut")
    images = {
        "original.jpg": _jpeg(photo),
        "reframed.jpg": _jpeg(EDITS["caption bar"](EDITS["crop 25 % left"](photo, photo), photo)),
        "mirrored.jpg": _jpeg(EDITS["flip"](photo, photo)),
        "unrelated.jpg": _jpeg(sample_photo("coffee")),
    }

    async def image(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in images:
            raise web.HTTPNotFound
        return web.Response(body=images[name], content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{name}", image)
    return app


def _with_image(doc: dict[str, Any], url: str) -> dict[str, Any]:
    return {**doc, "media": [{"kind": "image", "url": url}]}


async def _match(tmp_path: Path) -> tuple[list[dict[str, Any]], str]:
    async with served(_app()) as base:
        posts = [
            _with_image(post("1", "front", STATEMENT), f"{base}/original.jpg"),
            _with_image(post("2", "new", "look", minutes=1), f"{base}/reframed.jpg"),
            _with_image(post("3", "flip", "again", minutes=2), f"{base}/mirrored.jpg"),
            _with_image(post("4", "cafe", "coffee", minutes=3), f"{base}/unrelated.jpg"),
            _with_image(post("5", "gone", "where", minutes=4), f"{base}/missing.jpg"),
        ]
        (tmp_path / "pack.yaml").write_text(PACK)
        lines = [json.dumps(p) for p in posts]
        lines[3:3] = ["not json {", '["a list"]']  # reported as lines 4 and 5, and skipped
        (tmp_path / "posts.jsonl").write_text("".join(line + "\n" for line in lines))
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "postwatch", "match", "--fetch-media", "--media-private"],
            *["--rules", str(tmp_path / "pack.yaml"), "--input", str(tmp_path / "posts.jsonl")],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.splitlines()], err.decode()


def test_a_files_images_are_fetched_and_found_again_changed(tmp_path: Path) -> None:
    alerts, err = asyncio.run(_match(tmp_path))
    found = {a["post"]["id"]: a for a in alerts if a["kind"] == "reappearance"}
    assert [(a["post"]["id"], a["kind"]) for a in alerts if a["kind"] == "rule"] == [
        ("test:1", "rule")
    ]
    assert sorted(found) == ["test:2", "test:3"]
    assert found["test:2"]["evidence"][0]["type"] == "local_features"
    assert found["test:3"]["evidence"][0]["type"] == "pdq"
    assert {e["original_post_id"] for a in found.values() for e in a["evidence"]} == {"test:1"}
    assert "media: 4 fetched, 1 failed, 1 http_status" in err
    assert "5 posts" in err
    assert "posts.jsonl:4: skipped" in err
    assert "posts.jsonl:5: skipped" in err
    assert "2 skipped lines" in err
