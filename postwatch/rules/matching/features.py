"""Local image features: what finds an image again after it was cropped, captioned, rotated
a few degrees, framed in a screenshot, recompressed, recoloured or put in a collage.

A whole-image hash (PDQ) changes with the frame: a 10 % crop or a caption bar moves an image
past PDQ's threshold. Local features do not: `extract` finds up to `FEATURES` ORB keypoints
(corners, with a rotation-invariant 256-bit descriptor each) in the image scaled to `SIDE`
pixels on its longer side, and `inliers` counts the keypoints of one image that match the
other's (each one's nearest descriptor clearly nearer than the second, Lowe's ratio test)
and agree on one similarity transform (rotation, a scale within `SCALES`, shift), found by
RANSAC. An edited copy keeps tens to hundreds of such inliers; two unrelated photos share a
handful, by chance (`benchmarks/image_bench.py`: `MIN_INLIERS` is set from there). Mirror
images are not matched (ORB descriptors are not flip-invariant); a flipped copy is found by
the PDQ of the original's mirror image (`pdq_mirror`).

`Features.encode` is the compact text form a Post v1 media item carries (`features`):
base64 of a version byte, the keypoint count, their coordinates (uint16, 1/8 pixel) and
descriptors; `Features.decode` raises ValueError for any other string. `FeatureIndex`
finds, among many images' features, the ones a query shares enough inliers with.

OpenCV and FAISS are imported when first used, not with this module.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections import Counter
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from threading import Thread
from typing import Any

import numpy as np

__all__ = [
    "CANDIDATE_MATCHES",
    "FEATURES",
    "MIN_INLIERS",
    "SIDE",
    "FeatureIndex",
    "Features",
    "extract",
    "inliers",
]

FEATURES = 320
"""Keypoints kept per image (the strongest): at most 15,364 characters encoded."""
SIDE = 768
"""Images are scaled down to this many pixels on their longer side before extraction."""
MIN_INLIERS = 12
"""Inliers that make two images one: unrelated photos shared at most 8 (of 320), edited
copies 22 and more, most over 100 (`benchmarks/image_bench.py`)."""
RATIO = 0.8
"""Lowe's ratio test: a keypoint matches when its nearest descriptor in the other image is
nearer than this share of the second nearest."""
MAX_DISTANCE = 64
"""Hamming distance (of 256 bits) over which descriptors never match."""
REPROJECTION = 3.0
"""Pixels (at `SIDE`) a matched keypoint may be off the transform and still be an inlier."""
SCALES = (0.25, 4.0)
"""The scales a transform between two copies can have (a crop, a collage, a screenshot);
chance matches of unrelated images agree best on a transform that shrinks one image to a
point."""
CANDIDATE_MATCHES = 8
"""Matches a learned image needs in a `FeatureIndex` search to be verified at all."""
NEIGHBOURS = 3
"""Nearest descriptors a query keypoint votes for in a `FeatureIndex` search."""
EXACT_UP_TO = 16_384
"""Descriptors (about 50 images) up to which a `FeatureIndex` search is exact."""
PROBES = 8
"""Clusters of the inverted file searched for each query keypoint."""

_VERSION = 1
_HEADER = struct.Struct("<BH")
_DESCRIPTOR = 32
_SCALE = 8.0  # coordinates kept in 1/8 pixel, as uint16: up to 8191 pixels
_PATCH = 31  # ORB's patch: an image narrower than this has no keypoints


@dataclass(frozen=True, slots=True, eq=False)
class Features:
    """The keypoints of one image: `points` (n x 2 float32, pixels at `SIDE`) and their
    ORB `descriptors` (n x 32 uint8)."""

    points: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.points)

    def encode(self) -> str:
        points = np.round(self.points * _SCALE).astype("<u2")
        header = _HEADER.pack(_VERSION, len(self))
        return base64.b64encode(header + points.tobytes() + self.descriptors.tobytes()).decode()

    @classmethod
    def decode(cls, text: str) -> Features:
        """The features `encode` wrote; ValueError for a string that is no such thing."""
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"features are not base64: {exc}") from exc
        if len(data) < _HEADER.size:
            raise ValueError("features are too short")
        version, count = _HEADER.unpack_from(data)
        if version != _VERSION:
            raise ValueError(f"features of version {version}, not {_VERSION}")
        if count > FEATURES or len(data) != _HEADER.size + count * (4 + _DESCRIPTOR):
            raise ValueError(f"features of {len(data)} bytes do not hold {count} keypoints")
        end = _HEADER.size + 4 * count
        points = np.frombuffer(data, "<u2", 2 * count, _HEADER.size).reshape(count, 2)
        descriptors = np.frombuffer(data, np.uint8, count * _DESCRIPTOR, end)
        return cls((points.astype(np.float32) / _SCALE), descriptors.reshape(count, _DESCRIPTOR))


_NONE = Features(np.empty((0, 2), np.float32), np.empty((0, _DESCRIPTOR), np.uint8))
"""The features of an image without keypoints."""


def extract(gray: np.ndarray) -> Features:
    """The features of an image given as a 2-D uint8 array of grey levels (none for an
    image narrower than ORB's patch or without corners)."""
    cv2 = _cv2()
    height, width = gray.shape
    if min(height, width) < _PATCH:
        return _NONE
    scale = SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    keypoints, descriptors = _orb().detectAndCompute(np.ascontiguousarray(gray), None)
    if descriptors is None:
        return _NONE
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return Features(points, descriptors.astype(np.uint8))


@cache
def _cv2() -> Any:
    """OpenCV, on one thread: a worker is one process on one core."""
    import cv2  # noqa: PLC0415 - OpenCV takes 0.1 s to import; only images need it

    cv2.setNumThreads(1)
    return cv2


def _faiss() -> Any:
    """FAISS, on one thread (as `_cv2`); OpenMP's thread count is the calling thread's own,
    so each thread that uses FAISS calls this."""
    import faiss  # noqa: PLC0415 - FAISS takes 0.3 s to import; only learned images need it

    faiss.omp_set_num_threads(1)
    return faiss


@cache
def _orb() -> Any:
    return _cv2().ORB_create(nfeatures=FEATURES)


def inliers(query: Features, original: Features) -> int:
    """How many keypoints of `query` match one of `original` and agree with the others on
    one similarity transform (0 when fewer than `CANDIDATE_MATCHES` match at all, or the
    transform's scale is not within `SCALES`)."""
    cv2 = _cv2()
    if len(query) < 2 or len(original) < 2:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, original.descriptors, k=2)
    good = [
        (best.queryIdx, best.trainIdx)
        for best, second in (p for p in pairs if len(p) == 2)
        if best.distance < RATIO * second.distance and best.distance < MAX_DISTANCE
    ]
    if len(good) < CANDIDATE_MATCHES:
        return 0
    ours, theirs = (np.array(side) for side in zip(*good, strict=True))
    transform, mask = cv2.estimateAffinePartial2D(
        query.points[ours],
        original.points[theirs],
        method=cv2.RANSAC,
        ransacReprojThreshold=REPROJECTION,
    )
    if transform is None:
        return 0
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    return int(mask.sum()) if SCALES[0] <= scale <= SCALES[1] else 0


class FeatureIndex:
    """Many images' features, searchable: `search` takes each query keypoint's
    `NEIGHBOURS` nearest descriptors among all of theirs (FAISS), verifies the images that
    got `CANDIDATE_MATCHES` or more with `inliers`, and returns those with `MIN_INLIERS` or
    more.

    Up to `EXACT_UP_TO` descriptors the search is exact; past that, an inverted file of
    `_lists` clusters (`PROBES` of them searched) is built in a background thread (FAISS
    lets go of the interpreter while it learns its clusters: a worker's loop runs on) and
    built again each time the images have doubled since. Until a build is done, searches go
    on with the index there was (exact when there was none), which takes every image added
    meanwhile: what a search finds does not depend on when the build ends, only how fast.
    A removal starts from an exact index again."""

    def __init__(self) -> None:
        self._images: dict[Hashable, Features] = {}
        self._numbers: dict[Hashable, int] = {}  # key -> its number in the index
        self._keys: dict[int, Hashable] = {}
        self._next = 0
        self._size = 0  # descriptors of all images
        self._index: Any = None  # what searches use
        self._exact = True  # whether `_index` is the exact one
        self._built_at = 0  # descriptors `_index` was built with
        self._building: Future[tuple[Any, int]] | None = None
        self._since: list[tuple[int, np.ndarray]] = []  # added while `_building` runs

    def __len__(self) -> int:
        return len(self._images)

    @property
    def exact(self) -> bool:
        """Whether searches are exact now (no inverted file is needed, or it is not built)."""
        return self._exact

    def add(self, key: Hashable, features: Features) -> None:
        self.remove(key)
        number, self._next = self._next, self._next + 1
        self._images[key], self._numbers[key], self._keys[number] = features, number, key
        self._size += len(features)
        if self._index is not None:
            self._index.add_with_ids(features.descriptors, np.full(len(features), number))
        if self._building is not None:
            self._since.append((number, features.descriptors))

    def remove(self, key: Hashable) -> None:
        features = self._images.pop(key, None)
        if features is not None:
            del self._keys[self._numbers.pop(key)]
            self._size -= len(features)
            self._index, self._building, self._since = None, None, []

    def search(self, query: Features) -> list[tuple[Hashable, int]]:
        """The images `query` shares `MIN_INLIERS` or more inliers with, most first."""
        if len(query) < 2 or self._size == 0:
            return []
        distances, numbers = self._current().search(query.descriptors, NEIGHBOURS)
        votes = Counter(numbers[(distances < MAX_DISTANCE) & (numbers >= 0)].tolist())
        found = [
            (key, count)
            for number, votes_of in votes.items()
            if votes_of >= CANDIDATE_MATCHES
            and (count := inliers(query, self._images[key := self._keys[number]])) >= MIN_INLIERS
        ]
        return sorted(found, key=lambda hit: -hit[1])

    def wait(self) -> None:
        """Wait for a build under way, and search with what it built from now on."""
        self._current()
        if self._building is not None:
            self._building.result()
            self._current()

    def _current(self) -> Any:
        """The index to search now: a finished build swapped in, an exact one made if there
        is none, and a build started if one is due."""
        if self._building is not None and self._building.done():
            index, self._built_at = self._building.result()
            for number, descriptors in self._since:
                index.add_with_ids(descriptors, np.full(len(descriptors), number))
            self._index, self._exact, self._building, self._since = index, False, None, []
        if self._index is None:
            descriptors, numbers = self._stacked()
            faiss = _faiss()
            self._index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(8 * _DESCRIPTOR))
            self._index.add_with_ids(descriptors, numbers)
            self._exact, self._built_at = True, len(descriptors)
        due = self._exact or self._size > 2 * self._built_at
        if self._building is None and self._size > EXACT_UP_TO and due:
            self._building = Future()
            thread = Thread(target=_build, args=(*self._stacked(), self._building), daemon=True)
            thread.start()
        return self._index

    def _stacked(self) -> tuple[np.ndarray, np.ndarray]:
        """Every image's descriptors, and the number of the image of each."""
        descriptors = np.concatenate(
            [f.descriptors for f in self._images.values()] or [np.empty((0, _DESCRIPTOR))]
        ).astype(np.uint8)
        numbers = np.repeat(
            np.fromiter(self._numbers.values(), np.int64, len(self._numbers)),
            [len(f) for f in self._images.values()],
        )
        return descriptors, numbers


def _build(descriptors: np.ndarray, numbers: np.ndarray, done: Future[tuple[Any, int]]) -> None:
    """An inverted file of these descriptors, with their numbers as ids, given to `done`
    with how many descriptors it holds."""
    try:
        faiss = _faiss()
        bits = 8 * _DESCRIPTOR
        lists = _lists(len(descriptors))
        index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(bits), bits, lists)
        sample = np.random.default_rng(0).choice(
            len(descriptors), min(len(descriptors), 40 * lists), replace=False
        )
        index.train(descriptors[sample])
        index.nprobe = PROBES
        index.add_with_ids(descriptors, numbers)
    except Exception as exc:  # whatever it is, the search that swaps the build in raises it
        done.set_exception(exc)
    else:
        done.set_result((index, len(descriptors)))


def _lists(descriptors: int) -> int:
    """Clusters of the inverted file: about sqrt(descriptors), a power of two (more make
    searches faster and builds slower: each descriptor is compared with every cluster)."""
    return 1 << round(float(np.log2(np.sqrt(descriptors))))
