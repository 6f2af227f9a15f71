"""Text in images: Tesseract (through tesserocr) reads the words of a poster, a screenshot
or a caption, so that rules and reappearance can match them as they match a post's text.

    >>> from postwatch.media.ocr import read_text
    >>> read_text(Image.open("poster.png").convert("RGB"), ("eng", "urd", "ara"))  # doctest: +SKIP
    'Stand with the martyrs of the valley\\non Friday'

Every image is read: a cheap detector of text regions either missed lines of Arabic script or
flagged textured photos, and Tesseract's own layout pass (what a detector built on it
would cost) is most of what reading costs (`benchmarks/ocr_bench.py`). An image read with
little confidence is read again at half its size (`RETRY_CONFIDENCE`). Tesseract runs in the
hashing child process (`worker.Hasher`), under its time, byte and pixel limits, one thread
(`OMP_THREAD_LIMIT=1`: several hashing processes use the cores better than threads of one).

The language data comes from the system (Debian's `tesseract-ocr-eng`, `-urd`, `-ara`) or
`TESSDATA_PREFIX`; `check_languages` says, before any image is read, what is missing.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps, ImageStat

from postwatch.media.errors import OcrUnavailable

if TYPE_CHECKING:
    from tesserocr import PyTessBaseAPI

__all__ = [
    "LANGUAGES",
    "MAX_SIDE",
    "MAX_TEXT",
    "MIN_CONFIDENCE",
    "RETRY_CONFIDENCE",
    "RETRY_SCALE",
    "check_languages",
    "clean",
    "engine",
    "read_text",
    "tessdata",
]

LANGUAGES = ("eng", "urd", "ara")
"""What is read by default: English, Urdu and Arabic (Urdu's model reads Arabic script's
letters that Arabic's does not have; both are needed for text in either language)."""
MAX_SIDE = 2000
"""Larger images are scaled down to this many pixels on their longer side first: text a
reader can see at that size Tesseract reads, and time grows with the pixels."""
MIN_CONFIDENCE = 50
"""Text whose mean word confidence is below this (0-100) is taken for noise: the shapes
Tesseract finds in a textured photo are words of confidence 20-50."""
MAX_TEXT = 4000
"""Characters kept of one image's text (a post's own text is not longer)."""
RETRY_CONFIDENCE = 80
"""An image read with a mean word confidence under this (0-100) is read again, scaled by
RETRY_SCALE, and the more confident of the two readings is kept. Tesseract reads the
benchmark's English posters at 80 or more (read again too, they would keep as many words),
and the lines of Arabic script it reads well; the lines of an Arabic or Urdu poster it
misreads at their size (65-79) it often reads better at half of it.
Re-typed Arabic posters found again: 0.93, 0.97 and 0.90 of the benchmark's seeds 7, 2026
and 31337, against 0.73, 0.83 and 0.80 (`benchmarks/ocr_bench.py`); a threshold of 75 found
0.83 and 0.97, one of 85 as many as 80 at a third more cost for Arabic posters."""
RETRY_SCALE = 0.5
"""The scale of the second reading (of a poster, about two thirds the time of the first; of
a photo, a third): a poster of large letters that Tesseract's layout analysis takes for a
picture at its size is read too.
Read at three quarters, fewer of the benchmark's Arabic posters were found again (0.83 and
0.93 at seeds 7 and 2026). Small letters (a screenshot's) are read less confidently at half
the size, and their first reading is kept."""

_SYSTEM_TESSDATA = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
"""Direction marks and zero-width characters Tesseract puts around words of another script."""
_SPACES = re.compile(r"[ \t]+")
_SETTINGS = {"textord_noise_rejrows": "0"}
"""Tesseract's layout analysis drops a row of many small blobs as noise: often a line of
Arabic script, whose dots are such blobs; kept, the share of an Arabic poster's words read
goes from about a half to three quarters, and photos do not gain text
(`benchmarks/ocr_bench.py`)."""


def tessdata() -> Path | None:
    """The folder of Tesseract's language data: `TESSDATA_PREFIX`, else the first system
    folder that exists."""
    if prefix := os.environ.get("TESSDATA_PREFIX"):
        return Path(prefix)
    return next((Path(p) for p in _SYSTEM_TESSDATA if Path(p).is_dir()), None)


def check_languages(languages: Sequence[str]) -> None:
    """Raise `OcrUnavailable`, saying what to install, unless tesserocr imports and the data
    of every language is installed."""
    try:
        import tesserocr  # noqa: F401, PLC0415 - a native library, loaded when OCR is wanted
    except ImportError as exc:
        raise OcrUnavailable(f"tesserocr does not import ({exc})") from exc
    folder = tessdata()
    missing = [
        lang
        for lang in languages
        if folder is None or not (folder / f"{lang}.traineddata").is_file()
    ]
    if missing:
        where = folder or "any of " + ", ".join(_SYSTEM_TESSDATA)
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        raise OcrUnavailable(
            f"no Tesseract language data for {', '.join(missing)} in {where}: install "
            f"{packages} (Debian) or set TESSDATA_PREFIX"
        )


_apis: dict[tuple[str, ...], PyTessBaseAPI] = {}


def engine(languages: tuple[str, ...]) -> PyTessBaseAPI:
    """The Tesseract engine of this process for these languages, loaded on first use (the
    models take 0.1 s; the hashing child loads them before it takes jobs)."""
    api = _apis.get(languages)
    if api is None:
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        from tesserocr import PyTessBaseAPI  # noqa: PLC0415 - see check_languages

        check_languages(languages)
        api = _apis[languages] = PyTessBaseAPI(
            path=str(tessdata()), lang="+".join(languages), variables=_SETTINGS
        )
    return api


def read_text(rgb: Image.Image, languages: tuple[str, ...]) -> str | None:
    """The text Tesseract reads in the image, a line of the image a line of the text, in
    the reading order of its script; None when it reads nothing it is confident of.

    The image is read in grey, dark on light (inverted when it is mostly dark: white words
    on a coloured poster): Tesseract reads that best, and a fifth faster than colour. Read
    with a mean confidence under RETRY_CONFIDENCE, it is read again at RETRY_SCALE, and the
    more confident reading is kept."""
    gray = rgb.convert("L")
    width, height = gray.size
    if max(width, height) > MAX_SIDE:
        scale = MAX_SIDE / max(width, height)
        gray = gray.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    if ImageStat.Stat(gray).mean[0] < 128:
        gray = ImageOps.invert(gray)
    api = engine(languages)
    text, confidence = _read(api, gray)
    if confidence < RETRY_CONFIDENCE:
        # Tesseract misreads lines of Arabic script that are tall to it, and its layout
        # analysis takes some posters of large letters for a picture: read at half the size,
        # the more confident reading is kept
        width, height = gray.size
        smaller = (max(1, round(width * RETRY_SCALE)), max(1, round(height * RETRY_SCALE)))
        again = _read(api, gray.resize(smaller, Image.Resampling.LANCZOS))
        if again[1] > confidence:
            text, confidence = again
    return clean(text) if confidence >= MIN_CONFIDENCE else None


def _read(api: PyTessBaseAPI, gray: Image.Image) -> tuple[str, int]:
    """What Tesseract reads in the grey image, and its mean word confidence (0-100)."""
    api.SetImage(gray)
    text = api.GetUTF8Text()
    confidence = api.MeanTextConf()
    api.Clear()
    return text, confidence


def clean(text: str) -> str | None:
    """Tesseract's output as a post would hold it: NFC, no direction marks, one space
    between words, no empty lines, at most MAX_TEXT characters; None when nothing is left."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    kept = "\n".join(line for line in lines if line)[:MAX_TEXT]
    return kept or None
