"""Images that come back changed: recall per edit and false matches, whole-image PDQ against
local features, and what local features cost.

    python benchmarks/image_bench.py [--learned 100,1000,5000]

Originals are scikit-image's sample photos and the PDQ reference photos (../shared/data);
each is edited by every edit of `postwatch.bench.edits` (crops, caption bar, logo, small
rotations, screenshot frame, collage, recompression, colour filter, half size, flip) and
saved as a JPEG. An edited copy is caught by PDQ when its hash is within 31 bits of the
original's (the threshold of the learned bank), by PDQ's dihedral variants ("PDQ x8")
when one of the original's eight rotations and flips is, and by local features when it
shares `MIN_INLIERS` inliers with the original; "both" is what the mirror checks do (PDQ
of the original or of its mirror image, or local features of the copy or of its mirror
image). False matches are counted over
every pair of different photos (the originals and other sample photos), and every edited
copy against the other originals. Costs: extracting features per image (as the hashing process does,
after decoding), and searching a `FeatureIndex` of N learned images per query image (the
learned images are descriptors of the originals with 15 % of their bits flipped at random:
as unevenly spread as real ones, which is what an inverted file's cost depends on), against
FAISS's exact brute-force search of the same descriptors; all on one thread, as a worker
runs them.
Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import skimage.data
from PIL import Image

from postwatch.bench.edits import EDITS
from postwatch.media.hashing import HashOptions, hash_bytes
from postwatch.rules.matching.features import (
    FEATURES,
    MIN_INLIERS,
    NEIGHBOURS,
    FeatureIndex,
    Features,
    extract,
    inliers,
)

_PDQ = Path(__file__).parent.parent / "../shared/data/pdq/data"
ORIGINALS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "motorcycle")
OTHERS = (
    "horse", "moon", "coins", "clock", "brick", "grass", "gravel", "page", "text",
    "hubble_deep_field", "retina", "immunohistochemistry",
)  # fmt: skip
PDQ_THRESHOLD = 31
SAME_OBJECT = frozenset({"pen", "misc-c"})
"""Two photos of one printed coaster, from other angles: a true match, not counted as false."""


def _photo(name: str) -> Image.Image:
    samples: Any = skimage.data
    pixels = samples.stereo_motorcycle()[0] if name == "motorcycle" else getattr(samples, name)()
    return Image.fromarray(pixels).convert("RGB")


def _photos() -> tuple[dict[str, Image.Image], dict[str, Image.Image]]:
    originals = {name: _photo(name) for name in ORIGINALS}
    originals["bridge"] = Image.open(_PDQ / "reg-test-input/dih/bridge-1-original.jpg")
    others = {name: _photo(name) for name in OTHERS}
    others["pen"] = Image.open(_PDQ / "reg-test-input/pen-and-coaster.png")
    others["misc-c"] = Image.open(_PDQ / "misc-images/c.png")  # (b.jpg is the bridge)
    return (
        {k: v.convert("RGB") for k, v in originals.items()},
        {k: v.convert("RGB") for k, v in others.items()},
    )


class _Hashed:
    """An image as the hashing process sees it: JPEG bytes, PDQ, dihedral, features."""

    def __init__(self, image: Image.Image) -> None:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        hashes = hash_bytes(buffer.getvalue(), HashOptions(dihedral=True))
        assert hashes.pdq is not None
        assert hashes.features is not None
        self.pdq = int(hashes.pdq, 16)
        self.mirror = int(hashes.pdq_mirror or "", 16)
        self.dihedral = [int(value, 16) for value in hashes.dihedral.values()]
        self.features = Features.decode(hashes.features)
        self.features_mirror = Features.decode(hashes.features_mirror or "")


def _distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def _verdicts(copy: _Hashed, original: _Hashed) -> tuple[bool, bool, bool, bool]:
    """Caught by whole-image PDQ, by PDQ's dihedral variants, by local features, and by
    what the mirror checks do (PDQ of the original or of its mirror image, local features of
    the image or of its mirror image)."""
    pdq = _distance(copy.pdq, original.pdq) <= PDQ_THRESHOLD
    dihedral = min(_distance(copy.pdq, v) for v in original.dihedral) <= PDQ_THRESHOLD
    features = inliers(copy.features, original.features) >= MIN_INLIERS
    mirror = _distance(copy.pdq, original.mirror) <= PDQ_THRESHOLD
    mirrored = inliers(copy.features_mirror, original.features) >= MIN_INLIERS
    return pdq, dihedral, features, pdq or mirror or features or mirrored


def _recall(originals: dict[str, Image.Image], others: dict[str, Image.Image]) -> None:
    hashed = {name: _Hashed(image) for name, image in originals.items()}
    other = next(iter(others.values()))
    print(f"{'edit':<18}{'PDQ':>8}{'PDQ x8':>9}{'features':>10}{'both':>8}  inliers (min)")
    totals = np.zeros(4, int)
    false_edited = [0, 0, 0, 0]
    copies = 0
    for edit, make in EDITS.items():
        caught = np.zeros(4, int)
        least = FEATURES
        for name, image in originals.items():
            copy = _Hashed(make(image, other))
            caught += _verdicts(copy, hashed[name])
            least = min(least, inliers(copy.features, hashed[name].features))
            for other_name, original in hashed.items():
                if other_name != name:
                    false_edited = [
                        f + v for f, v in zip(false_edited, _verdicts(copy, original), strict=True)
                    ]
            copies += 1
        totals += caught
        n = len(originals)
        cells = "".join(f"{f'{c}/{n}':>{w}}" for c, w in zip(caught, (8, 9, 10, 8), strict=True))
        print(f"{edit:<18}{cells}  {least}")
    cells = "".join(f"{f'{c}/{copies}':>{w}}" for c, w in zip(totals, (8, 9, 10, 8), strict=True))
    print(f"{'all edits':<18}{cells}")
    pairs = copies * (len(originals) - 1)
    print(
        f"edited copies against other originals ({pairs} pairs), false matches: "
        f"PDQ {false_edited[0]}, PDQ x8 {false_edited[1]}, features {false_edited[2]}, "
        f"both {false_edited[3]}"
    )
    every = {**hashed, **{k: _Hashed(v) for k, v in others.items()}}
    names = list(every)
    pairs_of = [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if {a, b} != SAME_OBJECT
    ]
    false = [0, 0, 0, 0]
    most = 0
    for a, b in pairs_of:
        false = [f + v for f, v in zip(false, _verdicts(every[a], every[b]), strict=True)]
        most = max(most, inliers(every[a].features, every[b].features))
    print(
        f"unrelated photo pairs ({len(pairs_of)}), false matches: PDQ {false[0]}, "
        f"PDQ x8 {false[1]}, features {false[2]}, both {false[3]} (most inliers {most}, "
        f"threshold {MIN_INLIERS})"
    )
    a, b = sorted(SAME_OBJECT)
    print(
        f"one coaster in two photos ({a}, {b}): PDQ distance "
        f"{_distance(every[a].pdq, every[b].pdq)}, inliers "
        f"{inliers(every[a].features, every[b].features)}"
    )


def _costs(originals: dict[str, Image.Image], learned: list[int]) -> None:
    grey = [np.asarray(image.convert("L")) for image in originals.values()]
    started = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        for pixels in grey:
            extract(pixels)
    per_image = (time.perf_counter() - started) / (rounds * len(grey))
    sizes = ", ".join(f"{p.shape[1]}x{p.shape[0]}" for p in grey)
    print(f"extract: {per_image * 1000:.1f} ms per image ({sizes})")
    rng = np.random.default_rng(1)
    real = np.concatenate([extract(pixels).descriptors for pixels in grey])
    first = next(iter(originals.values()))
    query = extract(np.asarray(EDITS["caption bar"](first, first).convert("L")))
    for count in learned:
        before = _resident()
        index = FeatureIndex()
        index.add("original", extract(grey[0]))  # found and verified by every search
        stacked: list[np.ndarray] = []
        for key in range(count - 1):
            points = rng.uniform(0, 768, (FEATURES, 2)).astype(np.float32)
            noise = np.packbits(rng.random((FEATURES, 256)) < 0.15, axis=1)
            descriptors = real[rng.integers(0, len(real), FEATURES)] ^ noise
            index.add(key, Features(points, descriptors))
            stacked.append(descriptors)
        started = time.perf_counter()
        index.search(query)  # an exact search, which starts building the inverted file
        index.wait()
        built = time.perf_counter() - started
        grown = _resident() - before  # the index and its images' features
        times = []
        for _ in range(5):
            started = time.perf_counter()
            found = index.search(query)
            times.append(time.perf_counter() - started)
        assert [key for key, _ in found] == ["original"]
        exact = faiss.IndexBinaryFlat(256)  # the exact search, FAISS's SIMD brute force
        exact.add(np.concatenate([extract(grey[0]).descriptors, *stacked]))
        brute = []
        for _ in range(3):
            started = time.perf_counter()
            exact.search(query.descriptors, NEIGHBOURS)
            brute.append(time.perf_counter() - started)
        print(
            f"search among {count:>6,} learned images: "
            f"{statistics.median(times) * 1000:8.1f} ms per query image (median of 5; "
            f"exact brute force {statistics.median(brute) * 1000:.1f} ms); "
            f"index built in {built:.2f} s; "
            f"{grown / 2**20:,.0f} MiB resident"
        )
        del index, stacked, exact


def _resident() -> int:
    """This process's resident memory, bytes (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learned", default="100,1000,5000", help="index sizes to time")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # as the feature index runs it: one worker, one core
    originals, others = _photos()
    _recall(originals, others)
    _costs(originals, [int(n) for n in args.learned.split(",")])


if __name__ == "__main__":
    main()
