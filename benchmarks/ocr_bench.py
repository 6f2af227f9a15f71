"""Text in images: what Tesseract reads of posters in English, Urdu and Arabic, what it costs,
whether a cheap detector of text should decide which images are read, and how often a rule
phrase and a re-typed poster are found again through the text.

    python benchmarks/ocr_bench.py [--posters 30] [--seed 7]

Posters are real sentences (../shared/data: English of the UD PUD pairs, Urdu and Arabic of
Tatoeba), three sentences a poster, drawn with Pillow in a random background colour, font
(DejaVu Sans Bold or Serif for English; Amiri, Regular or Bold, for Urdu and Arabic: Debian's
fonts-dejavu-core and fonts-hosny-amiri) and size; photos are scikit-image's and the PDQ
reference images, without text. Each image is read as the hashing process reads it
(`postwatch.media.ocr.read_text`, languages eng+urd+ara, one thread).

Figures, per script: the share of the sentences' folded words read (recall); the share of
posters on which a rule phrase (two neighbouring words of five letters or more) is found
by the engine in `media.text`; the share of re-typed posters (the same sentences in the
other font, another colour and size) that reappear as the original's (the text fingerprint
of `LearnedBank`, as a worker learns a poster: "by words" its word bigrams alone, "re-typed"
with the letter runs of texts read in images too), and the re-typed posters that match the
poster of other sentences (false). Costs: milliseconds a poster and a photo (median), and
images a second on one core. The detector baseline: text-line candidates from a
morphological gradient, Otsu threshold and a horizontal closing (OpenCV, at 640 px; the
cheapest detector that can be built here without a downloaded model): its cost, the
posters it misses (whose text would then be lost) and the photos it lets through.
Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import textwrap
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFont

from postwatch.media.ocr import LANGUAGES, read_text
from postwatch.rules import Engine, parse_pack, post_from_dict
from postwatch.rules.detectors.learning import LearnedBank, fingerprint, letter_forms
from postwatch.rules.language.model import Post
from postwatch.rules.matching.normalize import fold

DATA = Path(__file__).parent.parent / "../shared/data"
LATIN = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
]
ARABIC = [
    "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Bold.ttf",
    "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf",
]
PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "horse",
    "coins",
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
    "retina",
    "immunohistochemistry",
)
MIN_WORDS = 8  # a worker's default


def sentences(script: str) -> list[str]:
    if script == "english":
        lines = (DATA / "parallel" / "ud_pud_en_ar.tsv").read_text().splitlines()[1:]
        return [line.split("\t")[1] for line in lines]
    name = "tatoeba_urd.txt" if script == "urdu" else "tatoeba_ara.txt"
    return [s for s in (DATA / "arabic_script" / name).read_text().splitlines() if s.strip()]


def draw(
    text: str, font: str, size: tuple[int, int], background: tuple[int, ...], rtl: bool
) -> Image.Image:
    image = Image.new("RGB", size, background)
    ink = "white" if sum(background) < 380 else "black"
    face = ImageFont.truetype(font, max(24, size[0] // 22))
    pen = ImageDraw.Draw(image)
    y = size[1] // 10
    for line in textwrap.wrap(text, max(10, int(size[0] / (0.6 * face.size)))):
        if rtl:
            pen.text((size[0] - 40, y), line, font=face, fill=ink, anchor="ra", direction="rtl")
        else:
            pen.text((40, y), line, font=face, fill=ink)
        y += int(face.size * 1.6)
    return image


def text_lines(gray: np.ndarray) -> int:
    """The detector baseline: how many text-line-like regions the image holds."""
    h, w = gray.shape
    scale = 640 / max(h, w)
    if scale < 1:
        gray = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    gradient = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, kernel)
    _, bw = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    closed = cv2.morphologyEx(
        bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1))
    )
    _, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    return sum(
        1
        for x, y, ww, hh, _ in stats[1:]
        if 8 <= hh <= 80
        and ww >= 2.5 * hh
        and 0.2 <= cv2.countNonZero(bw[y : y + hh, x : x + ww]) / (ww * hh) <= 0.9
    )


def words(text: str | None) -> set[str]:
    return set(fold(text or "").text.split())


def phrase_of(text: str) -> str | None:
    """Two neighbouring folded words of five letters or more: a rule's phrase."""
    ws = fold(text).text.split()
    pairs = [f"{a} {b}" for a, b in pairwise(ws) if min(len(a), len(b)) >= 5]
    return pairs[len(pairs) // 2] if pairs else None


def post(pid: str, author: str, text: str | None) -> Post:
    doc = {
        "schema": "postwatch.post/1",
        "id": f"bench:{pid}",
        "source": "bench",
        "author": {"id": f"bench:{author}"},
        "created_at": "2025-07-25T10:00:00Z",
        "text": "",
        "media": [{"kind": "image", "text": text}],
    }
    return post_from_dict(doc)


def rule_finds(phrase: str, read: str | None) -> bool:
    """Whether a keyword rule of the phrase matches a post whose image says `read`."""
    pack = parse_pack(
        f"pack: b\nversion: 1\nrules:\n  - id: r\n    title: t\n"
        f"    match: {{keywords: [{phrase!r}]}}\n",
        "b.yaml",
    )
    return bool(Engine([pack]).evaluate(post("p", "a", read)))


def photo_figures() -> None:
    """Photos without text: what reading them costs and finds, and what the detector says."""
    photos = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTOS]
    photos += [
        Image.open(p).convert("RGB")
        for p in sorted((DATA / "pdq" / "data" / "misc-images").glob("*.jpg"))
    ]
    read_ms, detect_ms, found, flagged = [], [], 0, 0
    for photo in photos:
        started = time.perf_counter()
        found += read_text(photo, LANGUAGES) is not None
        read_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        flagged += text_lines(np.asarray(photo.convert("L"))) >= 2
        detect_ms.append(1000 * (time.perf_counter() - started))
    print(
        f"photos without text: {len(photos)}, read {statistics.median(read_ms):.0f} ms median, "
        f"text found on {found}; the detector flags {flagged} "
        f"({statistics.median(detect_ms):.1f} ms)"
    )


def script_figures(script: str, count: int, rng: random.Random) -> tuple[list[float], int]:
    """Print the row of a script; the milliseconds of its posters and the detector's misses."""
    rtl = script != "english"
    fonts = ARABIC if rtl else LATIN
    pool = sentences(script)
    rng.shuffle(pool)
    texts = [" ".join(pool[3 * i : 3 * i + 3]) for i in range(count)]
    recall, phrases, missed, times = [], 0, 0, []
    bank = LearnedBank(text_threshold=0.4, containment_threshold=0.4, pdq_max_distance=31)
    for i, text in enumerate(texts):
        background = tuple(rng.randrange(256) for _ in range(3))
        size = rng.choice([(1080, 1080), (1200, 900), (900, 1200)])
        image = draw(text, fonts[i % 2], size, background, rtl)
        started = time.perf_counter()
        read = read_text(image, LANGUAGES)
        times.append(1000 * (time.perf_counter() - started))
        missed += text_lines(np.asarray(image.convert("L"))) < 2
        recall.append(len(words(read) & words(text)) / max(1, len(words(text))))
        phrase = phrase_of(text)
        phrases += phrase is not None and rule_finds(phrase, read)
        learned = post(f"o{i}", "listed", read)
        bank.learn_post(learned, f"alert{i}", datetime.now(UTC), MIN_WORDS, None)
    found = false = by_words = 0
    for i, text in enumerate(texts):  # re-typed: the other font, another colour and size
        background = tuple(rng.randrange(256) for _ in range(3))
        size = rng.choice([(1000, 1000), (1280, 720)])
        read = read_text(draw(text, fonts[1 - i % 2], size, background, rtl), LANGUAGES) or ""
        printed = fingerprint(read, MIN_WORDS)
        hits = {o.post_id for o, _, _ in bank.similar_texts(printed)} if printed else set()
        by_words += f"bench:o{i}" in hits
        hits |= {o.post_id for o, _ in bank.same_letters(letter_forms(read))}
        found += f"bench:o{i}" in hits
        false += len(hits - {f"bench:o{i}"})
    print(
        f"{script:8} {statistics.mean(recall):7.2f} {phrases / count:7.2f} "
        f"{by_words / count:9.2f} {found / count:9.2f} {false:6d} {statistics.median(times):5.0f}"
    )
    return times, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posters", type=int, default=30, help="posters a script")
    parser.add_argument("--seed", type=int, default=7, help="of the posters' sentences and looks")
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible workload, not a secret
    print(f"languages {'+'.join(LANGUAGES)}, {args.posters} posters a script, seed {args.seed}")
    photo_figures()
    print(
        f"{'script':8} {'recall':>7} {'phrase':>7} {'by words':>9} {'re-typed':>9} "
        f"{'false':>6} {'ms':>5}"
    )
    times: list[float] = []
    missed = 0
    for script in ("english", "urdu", "arabic"):
        script_times, script_missed = script_figures(script, args.posters, rng)
        times += script_times
        missed += script_missed
    median = statistics.median(times)
    print(
        f"posters: {median:.0f} ms median ({1000 / median:.1f} a second on one core); the "
        f"detector misses {missed} of {len(times)} posters"
    )


if __name__ == "__main__":
    main()
