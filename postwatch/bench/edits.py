"""The edits mirror accounts make to an image before posting it again, made with Pillow: what
`benchmarks/image_bench.py` measures image matching on and the tests check it with.

`EDITS` maps each edit's name to a function of the image (RGB) and a second, unrelated
image (the other half of a collage) that returns the edited copy.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

__all__ = ["EDITS", "Edit", "as_jpeg"]

Edit = Callable[[Image.Image, Image.Image], Image.Image]


def _crop(share: float, anchor: str) -> Edit:
    """Keep `share` of the width and height, the rest cut from the sides `anchor` names
    (`centre`, `left`: cut from the left, `top`: cut from the top)."""

    def edit(image: Image.Image, _: Image.Image) -> Image.Image:
        width, height = image.size
        cut_w, cut_h = round(width * (1 - share)), round(height * (1 - share))
        if anchor == "centre":
            box = (cut_w // 2, cut_h // 2, width - cut_w // 2, height - cut_h // 2)
        elif anchor == "left":
            box = (cut_w, 0, width, height)
        else:
            box = (0, cut_h, width, height)
        return image.crop(box)

    return edit


def _caption(image: Image.Image, _: Image.Image) -> Image.Image:
    """A white bar a quarter of the height above the image, with a line of black text."""
    width, height = image.size
    bar = height // 4
    out = Image.new("RGB", (width, height + bar), "white")
    out.paste(image, (0, bar))
    ImageDraw.Draw(out).text((10, bar // 3), "SHARE BEFORE THEY DELETE IT", fill="black")
    return out


def _logo(image: Image.Image, _: Image.Image) -> Image.Image:
    """A red disc over the lower right corner."""
    out = image.copy()
    width, height = image.size
    box = (round(width * 0.72), round(height * 0.72), round(width * 0.95), round(height * 0.95))
    ImageDraw.Draw(out).ellipse(box, fill=(200, 20, 20))
    return out


def _rotate(degrees: float) -> Edit:
    def edit(image: Image.Image, _: Image.Image) -> Image.Image:
        return image.rotate(degrees, expand=True, fillcolor="black")

    return edit


def _screenshot(image: Image.Image, _: Image.Image) -> Image.Image:
    """The image at 90 % inside an app's frame: a header bar with a name, margins below."""
    width, height = image.size
    out = Image.new("RGB", (round(width * 1.3), round(height * 1.8)), (240, 240, 240))
    out.paste(image.resize((round(width * 0.9), round(height * 0.9))), (width // 5, height // 3))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, out.width, height // 5), fill=(30, 60, 120))
    draw.text((20, 20), "@someone · 3h", fill="white")
    return out


def _collage(image: Image.Image, other: Image.Image) -> Image.Image:
    """The image beside another, scaled to the same height."""
    width, height = image.size
    beside = other.convert("RGB").resize((round(other.width * height / other.height), height))
    out = Image.new("RGB", (width + beside.width, height), "white")
    out.paste(image, (0, 0))
    out.paste(beside, (width, 0))
    return out


def as_jpeg(image: Image.Image, quality: int = 30) -> Image.Image:
    """The image saved as a JPEG of this quality and decoded again."""
    buffer = BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    with Image.open(BytesIO(buffer.getvalue())) as decoded:
        return decoded.convert("RGB")


def _filter(image: Image.Image, _: Image.Image) -> Image.Image:
    """A colour filter: more contrast, most of the colour gone."""
    return ImageEnhance.Color(ImageEnhance.Contrast(image).enhance(1.4)).enhance(0.3)


def _half(image: Image.Image, _: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2))


EDITS: dict[str, Edit] = {
    "crop 10 %": _crop(0.9, "centre"),
    "crop 25 % left": _crop(0.75, "left"),
    "crop 25 % top": _crop(0.75, "top"),
    "centre 80 %": _crop(0.8, "centre"),
    "caption bar": _caption,
    "logo": _logo,
    "rotate 3°": _rotate(3),
    "rotate -5°": _rotate(-5),
    "screenshot frame": _screenshot,
    "collage": _collage,
    "recompress": lambda image, _: as_jpeg(image),
    "colour filter": _filter,
    "half size": _half,
    "flip": lambda image, _: ImageOps.mirror(image),
    "flip + crop 10 %": lambda image, other: _crop(0.9, "centre")(ImageOps.mirror(image), other),
}
"""Every edit by name."""
