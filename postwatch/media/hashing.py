"""Hashes of media: SHA-256 and MD5 of the bytes, PDQ (with its quality) and local features
(`postwatch.rules.matching.features`) and the text Tesseract reads in them
(`postwatch.media.ocr`) of images, vPDQ of videos when the `vpdq` package is installed.

These functions decode untrusted bytes in the calling process. They cap bytes and pixels
before decoding and turn every decoder failure into a `MediaError`, but they cannot stop a
decoder that hangs or crashes: callers that handle input from the network go through
`postwatch.media.worker.Hasher`, which runs them in a child process with a time limit.

PDQ follows python-threatexchange exactly (Pillow decodes, `.convert("RGB")`, pdqhash
hashes the full-size image), so hashes agree bit for bit with the ones HMA computes. The
eight dihedral variants are the PDQ hashes of the image rotated and flipped by Pillow.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import msgspec
import numpy as np
import pdqhash
from PIL import Image

from postwatch.media.errors import DecodeError, TooLarge, Unreadable
from postwatch.media.ocr import LANGUAGES, read_text
from postwatch.rules.matching.features import extract

__all__ = [
    "DIHEDRAL",
    "FORMATS",
    "KEYFRAMES",
    "VPDQ_AVAILABLE",
    "HashOptions",
    "MediaFormat",
    "MediaHashes",
    "VpdqFrame",
    "hash_bytes",
    "hash_path",
    "keyframes",
    "sniff",
]

VPDQ_AVAILABLE = importlib.util.find_spec("vpdq") is not None
"""Whether video frames can be hashed (the optional `vpdq` package is installed)."""


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """A format told by magic bytes: its name, Post v1 `kind`, and MIME types."""

    name: str
    kind: str
    mime_types: tuple[str, ...]


_JPEG = MediaFormat("jpeg", "image", ("image/jpeg", "image/pjpeg"))
_PNG = MediaFormat("png", "image", ("image/png",))
_GIF = MediaFormat("gif", "image", ("image/gif",))
_WEBP = MediaFormat("webp", "image", ("image/webp",))
_MP4 = MediaFormat("mp4", "video", ("video/mp4", "video/quicktime", "video/x-m4v"))
_WEBM = MediaFormat("webm", "video", ("video/webm", "video/x-matroska"))
_AVI = MediaFormat("avi", "video", ("video/x-msvideo", "video/avi"))

FORMATS = (_JPEG, _PNG, _GIF, _WEBP, _MP4, _WEBM, _AVI)
"""Every format `sniff` tells."""

_MIRROR = 5
"""Where pdqhash.compute_dihedral puts the mirror image's hash (`flipy` in `DIHEDRAL`)."""
_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}

DIHEDRAL: tuple[tuple[str, Image.Transpose | None], ...] = (
    ("original", None),
    ("rotate90", Image.Transpose.ROTATE_90),
    ("rotate180", Image.Transpose.ROTATE_180),
    ("rotate270", Image.Transpose.ROTATE_270),
    ("flipx", Image.Transpose.FLIP_TOP_BOTTOM),
    ("flipy", Image.Transpose.FLIP_LEFT_RIGHT),
    ("flipplus1", Image.Transpose.TRANSPOSE),
    ("flipminus1", Image.Transpose.TRANSVERSE),
)
"""The eight dihedral variants by python-threatexchange's names, with Pillow's transposes
(a mapping checked against its expected hashes)."""


_MAGIC: tuple[tuple[tuple[tuple[int, bytes], ...], MediaFormat], ...] = (
    (((0, b"\xff\xd8\xff"),), _JPEG),
    (((0, b"\x89PNG\r\n\x1a\n"),), _PNG),
    (((0, b"GIF87a"),), _GIF),
    (((0, b"GIF89a"),), _GIF),
    (((0, b"RIFF"), (8, b"WEBP")), _WEBP),
    (((0, b"RIFF"), (8, b"AVI ")), _AVI),
    (((4, b"ftyp"),), _MP4),
    (((0, b"\x1a\x45\xdf\xa3"),), _WEBM),
)


def sniff(head: bytes) -> MediaFormat | None:
    """The format the first 16 bytes of a file announce, or None for anything else."""
    for marks, fmt in _MAGIC:
        if all(head[at : at + len(mark)] == mark for at, mark in marks):
            return fmt
    return None


@dataclass(frozen=True, slots=True)
class HashOptions:
    """Limits and choices for hashing; the defaults suit images from social media."""

    max_bytes: int = 64 * 1024 * 1024
    """Files larger than this are refused unread."""
    max_pixels: int = 4096 * 4096
    """Images with more pixels than this (told by their header) are refused undecoded. The
    largest images the platforms serve are 4096 pixels a side; hashing takes about 35 bytes
    a pixel (a 7000 x 7000 PNG of 142 KB took 1.7 GiB)."""
    timeout: float = 20.0
    """Seconds one file may take to decode and hash (enforced by `worker.Hasher`)."""
    dihedral: bool = False
    """Also give the PDQ hashes of the eight rotations and flips of images."""
    features: bool = True
    """Also give the local features of images (what finds a cropped or captioned copy)."""
    ocr: tuple[str, ...] = LANGUAGES
    """Languages whose text is read in images (Tesseract's names; `postwatch.media.ocr`);
    empty: none is read."""
    vpdq: bool = True
    """Hash video frames with vPDQ (when the vpdq package is installed)."""
    vpdq_seconds_per_hash: float = 1.0
    """vPDQ hashes one frame per this many seconds of video."""

    memory_bytes: int | None = None
    """Address space a hashing process may use (enforced by `worker.Hasher`); None for what
    the libraries take and 48 bytes a pixel of `max_pixels` (1.06 GiB by default)."""

    @property
    def memory_limit(self) -> int:
        """`memory_bytes`, or what None stands for."""
        return self.memory_bytes or 256 * 1024 * 1024 + 48 * self.max_pixels


class VpdqFrame(msgspec.Struct, frozen=True):
    """The PDQ hash of one video frame."""

    frame: int
    timestamp: float
    pdq: str
    quality: int


class MediaHashes(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What postwatch knows of one media file after hashing it; as JSON (`encode`), what
    `postwatch hash` prints, the parts a file does not have left out.

    `kind` is `image`, `video` or `other` (bytes of no format postwatch decodes: exact
    hashes only). `pdq_mirror` is the PDQ of the image's mirror image (left and right
    swapped: how a flipped copy is found again). `dihedral` maps each rotation or flip to its
    PDQ when asked for. `vpdq` is None unless the file is a video and vpdq is installed.
    `features` are an image's local features (`Features.encode`) when asked for, and
    `features_mirror` those of its mirror image (ORB's are not mirror-invariant); `text` is
    the text read in an image (`postwatch.media.ocr`), when asked for and there is any.
    """

    kind: str
    format: str | None
    size: int
    sha256: str
    md5: str
    pdq: str | None = None
    pdq_quality: int | None = None
    pdq_mirror: str | None = None
    dihedral: dict[str, str] = {}
    features: str | None = None
    features_mirror: str | None = None
    text: str | None = None
    vpdq: tuple[VpdqFrame, ...] | None = None

    def encode(self) -> bytes:
        return msgspec.json.encode(self)


KEYFRAMES = 64
"""Keyframes a video's media item carries at most (Post v1 `frames`)."""
_NEW_SHOT = 32
"""PDQ bits a frame differs by from the keyframe before it to be a keyframe of its own."""
_FRAME_QUALITY = 50


def keyframes(frames: Sequence[VpdqFrame]) -> list[VpdqFrame]:
    """The frames of a video worth looking up: of PDQ quality 50 or more (a dark or flat
    frame's hash says little), each 32 bits or more from the keyframe before it (a new shot,
    not the same one a second later); the first KEYFRAMES of them."""
    kept: list[VpdqFrame] = []
    last = -1
    for frame in frames:
        value = int(frame.pdq, 16)
        if frame.quality >= _FRAME_QUALITY and (
            last < 0 or (value ^ last).bit_count() >= _NEW_SHOT
        ):
            kept.append(frame)
            last = value
            if len(kept) == KEYFRAMES:
                break
    return kept


def hash_path(path: Path, options: HashOptions) -> MediaHashes:
    """Hash a file; raises `TooLarge` before reading one over the byte cap."""
    try:
        size = path.stat().st_size
        if size > options.max_bytes:
            raise TooLarge(f"{size} bytes, over the cap of {options.max_bytes}")
        with path.open("rb") as file:
            data = file.read(options.max_bytes + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    return hash_bytes(data, options)


def hash_bytes(data: bytes, options: HashOptions) -> MediaHashes:
    """Hash the bytes of one media file.

    Raises `TooLarge` over the byte or pixel caps, `DecodeError` for a file that announces
    an image or video format and does not decode. Bytes of no known format get exact hashes.
    """
    if len(data) > options.max_bytes:
        raise TooLarge(f"over the cap of {options.max_bytes} bytes")
    fmt = sniff(data[:16])
    exact = MediaHashes(
        kind=fmt.kind if fmt else "other",
        format=fmt.name if fmt else None,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    if fmt is None:
        return exact
    if fmt.kind == "image":
        rgb = _decode_image(data, fmt, options)
        # the 8 variants cost what one hash does (one DCT): the first is the image's own
        variants, quality = pdqhash.compute_dihedral(np.asarray(rgb))
        pdq, mirror = _hex(variants[0]), _hex(variants[_MIRROR])
        gray = np.asarray(rgb.convert("L")) if options.features else None
        return msgspec.structs.replace(
            exact,
            pdq=pdq,
            pdq_quality=int(quality),
            pdq_mirror=mirror,
            dihedral=_dihedral(rgb, pdq) if options.dihedral else {},
            features=None if gray is None else extract(gray).encode(),
            features_mirror=None if gray is None else extract(np.fliplr(gray)).encode(),
            text=read_text(rgb, options.ocr) if options.ocr else None,
        )
    if options.vpdq and VPDQ_AVAILABLE:
        return msgspec.structs.replace(exact, vpdq=_video_vpdq(data, options))
    return exact


def _decode_image(data: bytes, fmt: MediaFormat, options: HashOptions) -> Image.Image:
    try:
        with Image.open(BytesIO(data), formats=[_PILLOW_FORMATS[fmt.name]]) as image:
            width, height = image.size
            if width * height > options.max_pixels:
                raise TooLarge(f"{width}x{height} pixels, over the cap of {options.max_pixels}")
            rgb = image.convert("RGB")  # decodes; for a GIF, its first frame
    except Image.DecompressionBombError as exc:
        raise TooLarge(str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow's ways of saying the bytes are not a valid image of that format; its
        # messages name the in-memory file object, which tells a reader nothing
        reason = re.sub(r" <[^>]*>", "", str(exc))
        raise DecodeError(f"not a valid {fmt.name}: {reason}") from exc
    return rgb


def _dihedral(rgb: Image.Image, pdq: str) -> dict[str, str]:
    return {name: pdq if turn is None else _pdq(rgb.transpose(turn))[0] for name, turn in DIHEDRAL}


def _pdq(rgb: Image.Image) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.asarray(rgb))
    return _hex(bits), int(quality)


def _hex(bits: object) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def _video_vpdq(data: bytes, options: HashOptions) -> tuple[VpdqFrame, ...]:
    import vpdq  # noqa: PLC0415 - optional: only installed with the `video` extra

    with tempfile.NamedTemporaryFile(suffix=".video") as file:
        file.write(data)
        file.flush()
        try:
            features = vpdq.computeHash(
                file.name, seconds_per_hash=options.vpdq_seconds_per_hash, thread_count=1
            )
        except Exception as exc:  # vpdq raises bare Exception for a video it cannot read
            raise DecodeError(f"not a valid video: {exc}") from exc
    return tuple(
        VpdqFrame(int(f.frame_number), float(f.timestamp), str(f.hex), int(f.quality))
        for f in features
    )
