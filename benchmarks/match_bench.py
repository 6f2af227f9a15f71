"""Throughput of `postwatch match` against a bare read-and-parse loop, and of the keyword
matching engines, on one synthetic workload.

    python benchmarks/match_bench.py [--posts 200000] [--phrases 10000] [--runs 5] [--engines]
                                     [--scale 1000,10000,100000]

Builds POSTS realistic Post v1 lines (English tweets, Arabic and Urdu sentences, emoji,
URLs, handles, hashtags; about 0.5 % carry a phrase of the pack, some of them disguised)
and a pack of PHRASES keyword phrases, then times, in this one run:

1. the bare loop: read the file line by line and parse each line with orjson;
2. `postwatch match --rules PACK --input POSTS --output ALERTS` as a subprocess, every
   folding step on, timed as it reports it: from when its packs are compiled to the end
   (start-up, i.e. imports, tables and pack compilation, apart), and as a whole, start
   included. Its compiled pack is kept in a cache folder of its own, empty for the first
   run: the first run's start-up is a cold compile, the others' a start from the cache;
3. with --engines: hyperscan, re2 `Set` and pyahocorasick matching the same phrases on the
   pre-folded texts (`pip install -e '.[bench]'` for the last two);
4. with --scale: packs of each size over the same posts, cold and from the cache: start-up,
   posts/s, peak memory of the process, and the size of the cache entry.

The first two are taken RUNS times each (5), in turns. Prints posts/s for each (the best,
then every run), the ratio of the best `match` to the best bare loop, and the same ratio
with `match`'s start-up included (goal: >= 0.2). Text sources come from ../shared/data next
to the repository when present.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EMOJI = ["😀", "🔥", "🙏", "❤️", "👍🏽", "🇵🇰", "😂", "✨"]
SYLLABLES = ["ka", "ri", "mo", "ten", "sa", "lu", "vor", "nek", "dra", "pi", "zor", "an", "bel"]
DISGUISES: list[Callable[[str], str]] = [
    str.upper,
    lambda s: "#" + s.title().replace(" ", ""),
    lambda s: s.replace("a", "4").replace("e", "3").replace("o", "0"),
    " ".join,  # spaced-out letters
    lambda s: s.replace("a", "\u0430").replace("e", "\u0435"),  # Cyrillic look-alikes
    lambda s: s.replace(" ", "_"),
]


def _lines(path: Path, column: str | None = None) -> list[str]:
    if not path.exists():
        return []
    if column:
        with path.open(encoding="utf-8") as f:
            return [row[column] for row in csv.DictReader(f)]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line]


def sources() -> tuple[list[str], list[str]]:
    latin = _lines(DATA / "corpus_tweets_davidson" / "labeled_data.csv", "tweet")
    arabic = _lines(DATA / "arabic_script" / "tatoeba_ara.txt") + _lines(
        DATA / "arabic_script" / "tatoeba_urd.txt"
    )
    rng = random.Random(7)  # noqa: S311 - a synthetic workload, not a secret
    if not latin:  # the shared data is not there: synthetic sentences
        latin = [" ".join(word(rng) for _ in range(rng.randint(5, 20))) for _ in range(5000)]
    if not arabic:
        arabic = ["هذا نص تجريبي عن الطقس اليوم", "آج موسم بہت اچھا ہے"]
    return latin, arabic


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def make_phrases(n: int, rng: random.Random) -> list[str]:
    phrases: set[str] = set()
    while len(phrases) < n:
        phrases.add(" ".join(word(rng) for _ in range(rng.randint(1, 3))))
    return sorted(phrases)


def make_posts(
    n: int, phrases: list[str], rng: random.Random, injected: set[str]
) -> Iterable[bytes]:
    """Post v1 lines; the ids of the posts given a phrase of the pack go into `injected`."""
    latin, arabic = sources()
    for i in range(n):
        text = rng.choice(latin)
        if rng.random() < 0.23:
            text = rng.choice(arabic) + " " + (text if rng.random() < 0.3 else "")
        if rng.random() < 0.3:
            text += " " + rng.choice(EMOJI)
        if rng.random() < 0.2:
            text += f" https://news{i % 97}.example/{i}"
        if rng.random() < 0.005:
            injected.add(f"bench:{i}")
            phrase = rng.choice(phrases)
            text += " " + (rng.choice(DISGUISES)(phrase) if rng.random() < 0.5 else phrase)
        yield orjson.dumps(
            {
                "schema": "postwatch.post/1",
                "id": f"bench:{i}",
                "source": rng.choice(["mastodon", "bluesky", "rss"]),
                "url": f"https://social.example/@u{i % 5000}/{i}",
                # a busy stream: 500 posts a second
                "created_at": f"2025-07-25T10:{i // 30_000 % 60:02d}:{i // 500 % 60:02d}Z",
                "author": {"id": f"bench:u{i % 5000}", "handle": f"user{i % 5000}.example"},
                "text": text,
                "lang": "en",
                "hashtags": ["news"] if i % 7 == 0 else [],
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )


PER_PACK = 20_000
"""Phrases a pack of the benchmark holds at most (a pack holds at most 500,000 characters)."""


def write_packs(folder: Path, name: str, phrases: list[str]) -> list[Path]:
    """Packs of the phrases, PER_PACK at most each, 100 to a rule."""
    paths = []
    for number, first in enumerate(range(0, len(phrases), PER_PACK)):
        lines = [f"pack: {name}-{number}", "version: 1", "rules:"]
        part = phrases[first : first + PER_PACK]
        for k in range(0, len(part), 100):
            chunk = ", ".join(orjson.dumps(p).decode() for p in part[k : k + 100])
            lines += [
                f"  - id: b{k // 100:03d}",
                "    title: phrases",
                f"    match: {{keywords: [{chunk}]}}",
            ]
        path = folder / f"{name}-{number}.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def bare_loop(path: Path) -> float:
    """Seconds to read the file line by line and parse each line."""
    start = time.perf_counter()
    with path.open("rb") as f:
        for line in f:
            orjson.loads(line)
    return time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class MatchRun:
    """One `postwatch match`: seconds in all, seconds over the posts once its packs were
    compiled (as it reports), its summary line, and its peak memory."""

    total: float
    over_posts: float
    summary: str
    peak_mb: float

    @property
    def startup(self) -> float:
        return self.total - self.over_posts


def run_match(packs: list[Path], posts: Path, alerts: Path, cache: Path) -> MatchRun:
    """Run `postwatch match` with its compiled packs kept in `cache`."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(  # noqa: S603 - the project's own command
            [
                sys.executable,
                "-m",
                "postwatch",
                "match",
                *(arg for pack in packs for arg in ("--rules", str(pack))),
                "--input",
                str(posts),
                "--output",
                str(alerts),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "POSTWATCH_CACHE_DIR": str(cache)},
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        err.seek(0)
        said = err.read().decode("utf-8", "replace").strip()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"postwatch match failed: {said[-2000:]}")
    summary = said.splitlines()[-1]
    found = re.search(r"in ([0-9.]+) s after start-up", summary)
    if found is None:
        raise SystemExit(f"postwatch match did not say how long it took: {summary}")
    return MatchRun(elapsed, float(found.group(1)), summary, usage.ru_maxrss / 1024)


def scale(sizes: list[int], posts: Path, count: int, tmp: Path) -> None:
    """Compile, start-up, memory and throughput of packs of each size, cold and cached."""
    print(f"\npacks by size, over the same {count:,} posts (start-up: the command's whole")
    print("time less its time over the posts; cold: an empty cache folder, then from it)")
    print(
        f"  {'phrases':>8} {'cold start':>11} {'cached':>8} {'posts/s':>9} "
        f"{'with start':>11} {'peak, cold':>11} {'cached':>8} {'cache entry':>12}"
    )
    rng = random.Random(5)  # noqa: S311 - a synthetic workload, not a secret
    for size in sizes:
        packs, cache = write_packs(tmp, f"scale{size}", make_phrases(size, rng)), tmp / f"c{size}"
        cold = run_match(packs, posts, tmp / "alerts-scale.jsonl", cache)
        cached = run_match(packs, posts, tmp / "alerts-scale.jsonl", cache)
        entry = sum(f.stat().st_size for f in cache.glob("text-*.bin")) / 2**20
        print(
            f"  {size:>8,} {cold.startup:>9.1f} s {cached.startup:>6.1f} s "
            f"{count / cached.over_posts:>9,.0f} {count / cached.total:>11,.0f} "
            f"{cold.peak_mb:>8,.0f} MB {cached.peak_mb:>5,.0f} MB {entry:>9,.0f} MB"
        )


def _all(rates: list[float]) -> str:
    return ", ".join(f"{rate:,.0f}" for rate in rates)


def engines(phrases: list[str], posts: Path, n: int) -> None:
    from postwatch.rules.matching.matchers.text import TextMatcher  # noqa: PLC0415
    from postwatch.rules.matching.normalize import fold  # noqa: PLC0415

    texts = []
    with posts.open("rb") as f:
        for line, _ in zip(f, range(n), strict=False):
            texts.append(" " + fold(orjson.loads(line)["text"]).text + " ")
    folded = sorted({fold(p).text for p in phrases})
    print(f"\nkeyword engines, {len(folded):,} phrases, {len(texts):,} pre-folded texts, one core")

    def report(name: str, search: Callable[[str], object]) -> None:
        start = time.perf_counter()
        for text in texts:
            search(text)
        elapsed = time.perf_counter() - start
        print(f"  {name:34} {len(texts) / elapsed:>10,.0f} posts/s")

    import hyperscan  # noqa: PLC0415

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    literal = [re.escape(f" {p} ").encode() for p in folded]
    db.compile(
        expressions=literal,
        ids=list(range(len(literal))),
        elements=len(literal),
        flags=[0] * len(literal),
    )
    report(
        "hyperscan (literals)", lambda t: db.scan(t.encode(), match_event_handler=lambda *a: None)
    )
    matcher = TextMatcher(phrases)
    report("postwatch TextMatcher (fold + scan)", lambda t: matcher.keywords([t]))
    try:
        import re2  # noqa: PLC0415

        options = re2.Options()
        options.max_mem = 1 << 30
        rset = re2.Set.SearchSet(options)
        for p in folded:
            rset.Add(re2.escape(f" {p} "))
        rset.Compile()
        report("re2 Set", rset.Match)
    except ImportError:
        print("  re2 Set: google-re2 not installed")
    except re2.error as exc:  # it fails to compile some sets; say so rather than stop
        print(f"  re2 Set: {exc}")
    try:
        import ahocorasick  # noqa: PLC0415

        automaton = ahocorasick.Automaton()
        for p in folded:
            automaton.add_word(f" {p} ", p)
        automaton.make_automaton()
        report("pyahocorasick", lambda t: list(automaton.iter(t)))
    except ImportError:
        print("  pyahocorasick: not installed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--phrases", type=int, default=10_000)
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help="runs of each, in turns; 2 at least (the first compiles the pack, the others "
        "take it from the cache)",
    )
    parser.add_argument("--engines", action="store_true", help="also compare keyword engines")
    parser.add_argument(
        "--scale", default="", help="also packs of these sizes, e.g. 1000,10000,100000"
    )
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be 2 or more: the first compiles the pack, the others use it")
    rng = random.Random(42)  # noqa: S311 - a synthetic workload, not a secret
    phrases = make_phrases(args.phrases, rng)
    injected: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        posts = Path(tmp, "posts.jsonl")
        alerts = Path(tmp, "alerts.jsonl")
        with posts.open("wb") as f:
            f.writelines(make_posts(args.posts, phrases, rng, injected))
        packs = write_packs(Path(tmp), "bench", phrases)
        size = posts.stat().st_size
        print(
            f"{args.posts:,} posts ({size / args.posts:.0f} bytes each), {len(phrases):,} phrases"
        )
        # several of each, taken in turns, so that a machine whose speed drifts (other
        # processes on it) distorts the ratio less; the best of each is compared
        bares, runs = [], []
        cache = Path(tmp, "cache")  # empty for the first run, which compiles into it
        for _ in range(args.runs):
            bares.append(bare_loop(posts))
            runs.append(run_match(packs, posts, alerts, cache))
        rates_bare = [args.posts / b for b in bares]
        rates_match = [args.posts / r.over_posts for r in runs]
        with_start = [args.posts / r.total for r in runs[1:]]
        best_bare, best_match = max(rates_bare), max(rates_match)
        print(
            f"  bare loop (read + orjson.loads): {best_bare:>10,.0f} posts/s  ({_all(rates_bare)})"
        )
        print(
            f"  postwatch match:                 {best_match:>10,.0f} posts/s  "
            f"({_all(rates_match)}; start-up apart)"
        )
        print(f"  ratio match / bare loop:         {best_match / best_bare:>10.3f}")
        print(
            f"  start-up: {runs[0].startup:.1f} s compiling the pack, "
            f"{min(r.startup for r in runs[1:]):.1f} s with it compiled before (cache)"
        )
        print(
            f"  postwatch match, start included: {max(with_start):>10,.0f} posts/s  "
            f"({_all(with_start)}; pack cached)"
        )
        print(
            f"  ratio, start included:           {max(with_start) / best_bare:>10.3f}"
            "  (goal >= 0.2)"
        )
        print(runs[0].summary)
        alerted = {orjson.loads(line)["post"]["id"] for line in alerts.open("rb")}
        print(
            f"posts given a phrase (half of them disguised) that alerted: "
            f"{len(alerted & injected)}/{len(injected)}; other posts that alerted: "
            f"{len(alerted - injected)}"
        )
        if args.engines:
            engines(phrases, posts, min(args.posts, 50_000))
        if args.scale:
            scale([int(n) for n in args.scale.split(",")], posts, args.posts, Path(tmp))


if __name__ == "__main__":
    main()
