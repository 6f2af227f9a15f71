"""Posts for tests: one with the required fields only, and many for tests on the broker,
with a known subset that matches `tests/files/integration/pack.yaml`; and photos and
posters."""

from __future__ import annotations

import io
import random
import textwrap
from pathlib import Path
from typing import Any

import orjson
import skimage.data
from PIL import Image, ImageDraw, ImageFont

from postwatch.rules import alert_id

SHA = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
# near misses of the rule phrases, never the phrases themselves
WORDS = [
    "the", "a", "river", "city", "frontier", "examples", "samples", "brigades", "bread",
    "morning", "news",
]  # fmt: skip


def sample_photo(name: str) -> Image.Image:
    """One of scikit-image's sample photos (`astronaut`, `coffee`, ...), in RGB."""
    pixels: Any = getattr(skimage.data, name)()
    return Image.fromarray(pixels).convert("RGB")


LATIN = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
"""Debian's fonts-dejavu-core."""
ARABIC_SCRIPT = Path("/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Bold.ttf")
"""Debian's fonts-hosny-amiri: Naskh, with the letters of Urdu (DejaVu lacks some)."""


def poster(
    text: str,
    *,
    size: tuple[int, int] = (1080, 1080),
    background: tuple[int, int, int] = (150, 20, 30),
    font: Path | None = None,
    font_size: int = 54,
    right_to_left: bool = False,
) -> Image.Image:
    """A poster: `text` in white on a plain background, wrapped to the width; written right
    to left (shaped, as Urdu and Arabic are, in `ARABIC_SCRIPT` unless another font is
    given) when asked."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(font or (ARABIC_SCRIPT if right_to_left else LATIN), font_size)
    width = max(8, int(size[0] / (0.62 * font_size)))
    y = size[1] // 8
    for line in textwrap.wrap(text, width):
        if right_to_left:
            at = (size[0] - 50, y)
            draw.text(at, line, font=face, fill="white", anchor="ra", direction="rtl")
        else:
            draw.text((50, y), line, font=face, fill="white")
        y += int(font_size * 1.6)
    return image


def png(image: Image.Image) -> bytes:
    """The image as PNG bytes."""
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def post_doc(**fields: Any) -> dict[str, Any]:
    """A Post v1 document with the required fields only (`test:1` by `test:a`, text "x");
    `fields` override them. A dict, not parsed: tests also make invalid records of it."""
    return {
        "schema": "postwatch.post/1",
        "id": "test:1",
        "source": "test",
        "author": {"id": "test:a"},
        "created_at": "2025-07-25T10:00:00Z",
        "text": "x",
        **fields,
    }


def make_posts(n: int, seed: int, prefix: str = "test") -> tuple[list[dict[str, object]], set[str]]:
    """n posts of which 8 % match; returns them with the alert ids they must raise."""
    rng = random.Random(seed)
    posts: list[dict[str, object]] = []
    expected: set[str] = set()
    for i in range(n):
        post_id = f"{prefix}:{i}"
        post = post_doc(
            id=post_id,
            source=prefix,
            author={"id": f"{prefix}:user{i % 37}"},
            text=" ".join(rng.choice(WORDS) for _ in range(12)),
        )
        kind = i % 50
        if kind == 7:
            post["text"] = f"{post['text']} Sample  BRIGADE."
            expected.add(alert_id("it-names", 1, post_id))
        elif kind == 19:
            post["media"] = [{"kind": "image", "sha256": SHA.upper()}]
            expected.add(alert_id("it-media", 1, post_id))
        elif kind == 33:
            post["author"] = {"id": "test:listed"}
            post["text"] = "we are the Example Front"
            expected.add(alert_id("it-author", 1, post_id))
            expected.add(alert_id("it-names", 1, post_id))
        posts.append(post)
    return posts, expected


def as_records(posts: list[dict[str, object]]) -> list[tuple[bytes | None, bytes]]:
    """Kafka records as a connector would produce them: keyed by author id."""
    return [
        (str(post["author"]["id"]).encode(), orjson.dumps(post))  # type: ignore[index]
        for post in posts
    ]
