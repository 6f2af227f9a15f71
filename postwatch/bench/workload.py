"""A synthetic but realistic workload: posts, a keyword pack and a PDQ bank.

Posts mix Latin, Arabic and Urdu script words, emoji, handles, hashtags and links, with
lengths spread like short social posts; 10 % carry media hashes. A known share of posts
matches: one in every `1 / match_rate` holds a phrase of the pack or the near-duplicate
(a few bits off) of a bank hash, so the number of alerts a run must raise is known.

A second pack, `storm.yaml`, is a rule published by mistake: STORM_RULES rules, each of
the same STORM_WORDS common words, which about half of the posts hold (an alert storm).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["Workload", "write_workload"]

_LATIN = "abcdefghijklmnopqrstuvwxyz"
_ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
_URDU_EXTRA = "ٹڈڑںھےیگکچپ"
_EMOJI = ["😀", "🔥", "🙏", "🇵🇰", "❤️", "👍", "🚀", "😂"]
_TLDS = ["com", "org", "net", "pk", "info", "example"]


STORM_RULES = 4
STORM_WORDS = 200


@dataclass(frozen=True, slots=True)
class Workload:
    """Files of one workload and what a run over it must produce."""

    posts: Path
    pack: Path
    bank: Path
    storm: Path
    count: int
    matching_posts: int


def _word(rng: random.Random, alphabet: str, low: int = 2, high: int = 9) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _near(rng: random.Random, value: str, bits: int) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def _text(rng: random.Random, vocabulary: list[str]) -> str:
    words = [rng.choice(vocabulary) for _ in range(max(3, int(rng.lognormvariate(3.0, 0.6))))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(_EMOJI))
    if rng.random() < 0.2:
        words.insert(0, "@" + _word(rng, _LATIN, 4, 12))
    if rng.random() < 0.2:
        words.append("#" + _word(rng, _LATIN, 4, 12))
    if rng.random() < 0.15:
        words.append(
            f"https://{_word(rng, _LATIN, 3, 10)}.{rng.choice(_TLDS)}/{_word(rng, _LATIN)}"
        )
    return " ".join(words)


def write_workload(
    directory: Path,
    *,
    posts: int,
    terms: int = 10_000,
    hashes: int = 1_000_000,
    match_rate: float = 0.005,
    media_rate: float = 0.1,
    seed: int = 0,
) -> Workload:
    """Write posts (JSON lines), a pack with `terms` phrases and a bank of `hashes` PDQ hashes."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    directory.mkdir(parents=True, exist_ok=True)
    common = (
        [_word(rng, _LATIN) for _ in range(5000)]
        + [_word(rng, _ARABIC) for _ in range(1200)]
        + [_word(rng, _ARABIC + _URDU_EXTRA) for _ in range(800)]
    )
    # rule phrases are made of words the posts never use otherwise, so matches are planted only
    rare = [_word(rng, _LATIN, 10, 14) for _ in range(terms)]
    phrases = [" ".join(rare[i : i + rng.randint(1, 3)]) for i in range(terms)]
    bank_hashes = [_pdq(rng) for _ in range(hashes)]

    bank = directory / "bank.pdq"
    with bank.open("w") as out:
        out.writelines(f"{h}\n" for h in bank_hashes)
    pack = directory / "pack.yaml"
    quoted = ", ".join(orjson.dumps(p).decode() for p in phrases)
    pack.write_text(
        "pack: bench\nversion: 1\n"
        "banks:\n  known:\n    file: bank.pdq\n    format: pdq\n    pdq_max_distance: 31\n"
        "rules:\n"
        "  - id: bench-keywords\n    title: Benchmark phrases\n    severity: medium\n"
        f"    match: {{keywords: [{quoted}]}}\n"
        "  - id: bench-media\n    title: Benchmark media\n    severity: high\n"
        "    match: {hashes: {bank: known}}\n"
    )

    storm = directory / "storm.yaml"
    latin = common[:5000]  # drawn apart, so that the posts stay those of the seed
    broad = orjson.dumps(random.Random(seed + 1).sample(latin, STORM_WORDS)).decode()  # noqa: S311
    storm.write_text(
        "pack: storm\nversion: 1\nrules:\n"
        + "".join(
            f"  - id: storm-{i}\n    title: Too broad {i}\n    severity: low\n"
            f"    match: {{keywords: {broad}}}\n"
            for i in range(STORM_RULES)
        )
    )

    every = max(1, round(1 / match_rate)) if match_rate > 0 else 0
    matching = 0
    path = directory / "posts.jsonl"
    with path.open("wb") as out:
        for i in range(posts):
            post: dict[str, object] = {
                "schema": "postwatch.post/1",
                "id": f"bench:{i}",
                "source": "bench",
                "url": f"https://bench.example/p/{i}",
                "created_at": "2025-07-25T10:00:00Z",
                "author": {"id": f"bench:{rng.randrange(50_000)}", "handle": _word(rng, _LATIN)},
                "text": _text(rng, common),
                "lang": rng.choice(["en", "ar", "ur", "en", "en"]),
            }
            planted = bool(every) and i % every == 0
            # planted posts alternate between a rule phrase and a near-duplicate bank image
            if planted and (i // every) % 2 == 1:
                near = _near(rng, rng.choice(bank_hashes), 8)
                post["media"] = [{"kind": "image", "pdq": near, "pdq_quality": 100}]
            elif rng.random() < media_rate:
                post["media"] = [{"kind": "image", "pdq": _pdq(rng), "pdq_quality": 100}]
            if planted and (i // every) % 2 == 0:
                post["text"] = f"{post['text']} {rng.choice(phrases)}"
            matching += planted
            out.write(orjson.dumps(post) + b"\n")
    return Workload(path, pack, bank, storm, posts, matching)
