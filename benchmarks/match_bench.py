"""Throughput of `postwatch match` against a bare read-and-parse loop, and of the keyword
matching engines, on one synthetic workload.

    python benchmarks/match_bench.py [--posts 200000] [--phrases 10000] [--runs 5] [--engines]

Builds POSTS realistic Post v1 lines (English tweets, Arabic and Urdu sentences, emoji,
URLs, handles, hashtags; about 0.5 % carry a phrase of the pack, some of them disguised)
and a pack of PHRASES keyword phrases, then times, in this one run:

1. the bare loop: read the file line by line and parse each line with orjson;
2. `postwatch match --rules PACK --input POSTS --output ALERTS` as a subprocess, every
   folding step on, timed as it reports it: from when its packs are compiled to the end
   (start-up, i.e. imports, tables and pack compilation, apart);
3. with --engines: hyperscan, re2 `Set` and pyahocorasick matching the same phrases on the
   pre-folded texts (`pip install -e '.[bench]'` for the last two).

The first two are taken RUNS times each (5), in turns. Prints posts/s for each (the best,
then every run) and the ratio of the best `match` to the best bare loop (goal: >= 0.2).
Text sources come from ../shared/data next to the repository when present.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
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


def write_pack(path: Path, phrases: list[str]) -> None:
    lines = ["pack: bench", "version: 1", "rules:"]
    for k in range(0, len(phrases), 100):
        chunk = ", ".join(orjson.dumps(p).decode() for p in phrases[k : k + 100])
        lines += [
            f"  - id: b{k // 100:03d}",
            "    title: phrases",
            f"    match: {{keywords: [{chunk}]}}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def bare_loop(path: Path) -> float:
    """Seconds to read the file line by line and parse each line."""
    start = time.perf_counter()
    with path.open("rb") as f:
        for line in f:
            orjson.loads(line)
    return time.perf_counter() - start


def run_match(pack: Path, posts: Path, alerts: Path) -> tuple[float, float, str]:
    """Seconds the whole command took, seconds it took over the posts once its packs were
    compiled (as it reports), and its summary line."""
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - the project's own command
        [
            sys.executable,
            "-m",
            "postwatch",
            "match",
            "--rules",
            str(pack),
            "--input",
            str(posts),
            "--output",
            str(alerts),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - start
    summary = done.stderr.strip().splitlines()[-1]
    found = re.search(r"in ([0-9.]+) s after start-up", summary)
    if found is None:
        raise SystemExit(f"postwatch match did not say how long it took: {summary}")
    return elapsed, float(found.group(1)), summary


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
    parser.add_argument("--runs", type=int, default=5, help="runs of each, in turns")
    parser.add_argument("--engines", action="store_true", help="also compare keyword engines")
    args = parser.parse_args()
    rng = random.Random(42)  # noqa: S311 - a synthetic workload, not a secret
    phrases = make_phrases(args.phrases, rng)
    injected: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        posts, empty = Path(tmp, "posts.jsonl"), Path(tmp, "empty.jsonl")
        pack, alerts = Path(tmp, "pack.yaml"), Path(tmp, "alerts.jsonl")
        with posts.open("wb") as f:
            f.writelines(make_posts(args.posts, phrases, rng, injected))
        empty.write_bytes(b"")
        write_pack(pack, phrases)
        size = posts.stat().st_size
        print(
            f"{args.posts:,} posts ({size / args.posts:.0f} bytes each), {len(phrases):,} phrases"
        )
        # several of each, taken in turns, so that a machine whose speed drifts (other
        # processes on it) distorts the ratio less; the best of each is compared
        bares, runs = [], []
        for _ in range(args.runs):
            bares.append(bare_loop(posts))
            runs.append(run_match(pack, posts, alerts))
        rates_bare = [args.posts / b for b in bares]
        rates_match = [args.posts / r[1] for r in runs]
        summary = runs[0][2]
        startup = min(total - over_posts for total, over_posts, _ in runs)
        best_bare, best_match = max(rates_bare), max(rates_match)
        print(
            f"  bare loop (read + orjson.loads): {best_bare:>10,.0f} posts/s  ({_all(rates_bare)})"
        )
        print(
            f"  postwatch match:                 {best_match:>10,.0f} posts/s  "
            f"({_all(rates_match)}; start-up {startup:.1f} s apart)"
        )
        print(f"  ratio match / bare loop:         {best_match / best_bare:>10.3f}  (goal >= 0.2)")
        print(summary)
        alerted = {orjson.loads(line)["post"]["id"] for line in alerts.open("rb")}
        print(
            f"posts given a phrase (half of them disguised) that alerted: "
            f"{len(alerted & injected)}/{len(injected)}; other posts that alerted: "
            f"{len(alerted - injected)}"
        )
        if args.engines:
            engines(phrases, posts, min(args.posts, 50_000))


if __name__ == "__main__":
    main()
