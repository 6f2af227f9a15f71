"""The compile cache: a pack taken from it matches exactly as one compiled afresh, and an
entry that is corrupted, cut short or another pack's is rejected and compiled anew."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from postwatch.rules import Engine, Match, Pack, Post, load_packs
from postwatch.rules.language.model import Evidence
from postwatch.rules.matching import charmap
from postwatch.rules.matching.cache import CompileCache
from tests.unit.rules.conftest import make_post

ROOT = Path(__file__).parents[4]
PACKS = [
    *(ROOT / "tests" / "files" / "packs" / f"{name}.yaml" for name in ("evasion", "good")),
    ROOT / "examples" / "packs" / "davidson.yaml",
]
TWEETS = ROOT.parent / "shared" / "data" / "corpus_tweets_davidson" / "labeled_data.csv"


@pytest.fixture(scope="module")
def packs() -> list[Pack]:
    return load_packs(PACKS)


@pytest.fixture(scope="module")
def posts(packs: list[Pack]) -> list[Post]:
    """The packs' own test posts (each rule's matches and near misses) and 3,000 tweets."""
    tests = [test.post for pack in packs for rule in pack.rules for test in rule.tests]
    with TWEETS.open(encoding="utf-8") as f:
        tweets = [row["tweet"] for row, _ in zip(csv.DictReader(f), range(3000), strict=False)]
    return tests + [make_post(id=f"test:{i}", text=text) for i, text in enumerate(tweets)]


def alerts(engine: Engine, posts: list[Post]) -> list[list[Match]]:
    found = engine.evaluate_many(posts)
    assert sum(map(len, found)) > 100  # the comparison is over many matches, not none
    return found


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("text-*.bin"))


def test_a_cached_pack_gives_exactly_the_alerts_of_a_fresh_compile(
    packs: list[Pack], posts: list[Post], tmp_path: Path
) -> None:
    fresh = alerts(Engine(packs), posts)
    writing = CompileCache(tmp_path)
    assert alerts(Engine(packs, cache=writing), posts) == fresh
    assert (writing.misses, writing.hits, len(entries(tmp_path))) == (1, 0, 1)
    reading = CompileCache(tmp_path)
    assert alerts(Engine(packs, cache=reading), posts) == fresh
    assert (reading.misses, reading.hits, reading.rejected) == (0, 1, 0)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="a flipped bit"),
        pytest.param(lambda data: data[: len(data) // 2], id="cut short"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"x" * len(data), id="not an entry"),
    ],
)
def test_a_damaged_entry_is_rejected_and_compiled_anew(
    packs: list[Pack], posts: list[Post], tmp_path: Path, damage: object
) -> None:
    fresh = alerts(Engine(packs), posts)
    Engine(packs, cache=CompileCache(tmp_path))
    (entry,) = entries(tmp_path)
    assert callable(damage)
    entry.write_bytes(damage(entry.read_bytes()))
    cache = CompileCache(tmp_path)
    assert alerts(Engine(packs, cache=cache), posts) == fresh
    assert (cache.rejected, cache.hits) == (1, 0)
    again = CompileCache(tmp_path)
    Engine(packs, cache=again)  # the entry was written anew
    assert (again.rejected, again.hits) == (0, 1)


def test_another_packs_entry_under_this_packs_name_is_rejected(
    packs: list[Pack], posts: list[Post], tmp_path: Path
) -> None:
    fresh = alerts(Engine(packs), posts)
    Engine(packs[:1], cache=CompileCache(tmp_path / "other"))
    Engine(packs, cache=CompileCache(tmp_path))
    ((foreign,), (own,)) = entries(tmp_path / "other"), entries(tmp_path)
    own.write_bytes(foreign.read_bytes())  # a valid entry, of other terms
    cache = CompileCache(tmp_path)
    assert alerts(Engine(packs, cache=cache), posts) == fresh
    assert (cache.rejected, cache.hits) == (1, 0)


def test_a_folder_that_cannot_be_written_only_leaves_the_pack_uncached(
    packs: list[Pack], posts: list[Post], tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    cache = CompileCache(blocked / "cache")
    assert alerts(Engine(packs, cache=cache), posts) == alerts(Engine(packs), posts)
    assert (cache.misses, cache.hits) == (1, 0)


def test_the_character_tables_come_from_the_cache_once_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = (charmap.clean_table(), charmap.word_table())
    monkeypatch.setattr(charmap, "_TABLES", {})
    writing = CompileCache(tmp_path)
    charmap.tables_from(writing)
    assert (writing.misses, len(list(tmp_path.glob("tables-*.bin")))) == (1, 1)
    for damaged in (False, True):
        monkeypatch.setattr(charmap, "_TABLES", {})
        if damaged:
            (entry,) = tmp_path.glob("tables-*.bin")
            entry.write_bytes(entry.read_bytes()[:-7])
        reading = CompileCache(tmp_path)
        charmap.tables_from(reading)
        assert (reading.hits, reading.rejected) == (0, 1) if damaged else (1, 0)
        assert (charmap.clean_table(), charmap.word_table()) == built


def bank_pack(folder: Path, hashes: list[str]) -> Path:
    """A pack whose bank reads `hashes` from a file, one a line, and holds one SHA-256 of
    its own."""
    (folder / "known.pdq").write_text("".join(f"{h}\n" for h in hashes))
    pack = folder / "banked.yaml"
    pack.write_text(
        "pack: banked\nversion: 1\n"
        f"banks:\n  known:\n    file: known.pdq\n    format: pdq\n    sha256: ['{'ab' * 32}']\n"
        "rules:\n  - id: known-media\n    title: Known media\n    severity: high\n"
        "    match: {hashes: {bank: known}}\n"
    )
    return pack


def flipped(value: str, bits: list[int]) -> str:
    number = int(value, 16)
    for bit in bits:
        number ^= 1 << bit
    return f"{number:064x}"


@pytest.fixture(scope="module")
def bank_hashes() -> list[str]:
    """20,000 PDQ hashes (more than the index keeps beside its sorted views), 50 twice."""
    rng = random.Random(5)
    hashes = [f"{rng.getrandbits(256):064x}" for _ in range(20_000)]
    return hashes + hashes[:50]


@pytest.fixture(scope="module")
def media_posts(bank_hashes: list[str]) -> list[Post]:
    """Posts with media near bank hashes (0 to 40 bits off), unknown media, and the bank's
    SHA-256."""
    rng = random.Random(6)
    posts = []
    for i in range(1_000):
        pdq = flipped(rng.choice(bank_hashes), rng.sample(range(256), rng.randint(0, 40)))
        unknown = f"{rng.getrandbits(256):064x}"
        media = [{"pdq": pdq, "pdq_quality": 100}, {"pdq": unknown, "pdq_quality": 100}]
        if i % 100 == 0:
            media.append({"sha256": "ab" * 32})
        posts.append(make_post(id=f"test:{i}", media=media))
    return posts


def media_alerts(
    packs: list[Pack], posts: list[Post]
) -> list[list[tuple[str, tuple[Evidence, ...]]]]:
    found = [
        [(m.rule.id, m.evidence) for m in matches] for matches in Engine(packs).evaluate_many(posts)
    ]
    assert sum(map(len, found)) > 300  # posts hold near copies within 31 bits: many alerts
    return found


def test_a_bank_from_the_cache_matches_exactly_as_one_read_from_its_file(
    bank_hashes: list[str], media_posts: list[Post], tmp_path: Path
) -> None:
    pack = bank_pack(tmp_path, bank_hashes)
    fresh = load_packs([pack])
    writing = CompileCache(tmp_path / "cache")
    assert media_alerts(load_packs([pack], writing), media_posts) == media_alerts(
        fresh, media_posts
    )
    assert (writing.misses, len(list((tmp_path / "cache").glob("bank-*.bin")))) == (1, 1)
    reading = CompileCache(tmp_path / "cache")
    cached = load_packs([pack], reading)
    assert (reading.hits, reading.misses, reading.rejected) == (1, 0, 0)
    assert media_alerts(cached, media_posts) == media_alerts(fresh, media_posts)
    assert cached[0].banks["known"].counts() == fresh[0].banks["known"].counts()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="a flipped bit"),
        pytest.param(lambda data: data[: len(data) // 2], id="cut short"),
    ],
)
def test_a_damaged_bank_entry_is_rejected_and_the_file_read_again(
    bank_hashes: list[str], media_posts: list[Post], tmp_path: Path, damage: object
) -> None:
    pack = bank_pack(tmp_path, bank_hashes)
    fresh = media_alerts(load_packs([pack]), media_posts)
    load_packs([pack], CompileCache(tmp_path / "cache"))
    (entry,) = (tmp_path / "cache").glob("bank-*.bin")
    assert callable(damage)
    entry.write_bytes(damage(entry.read_bytes()))
    cache = CompileCache(tmp_path / "cache")
    assert media_alerts(load_packs([pack], cache), media_posts) == fresh
    assert (cache.rejected, cache.hits) == (1, 0)
    again = CompileCache(tmp_path / "cache")
    load_packs([pack], again)  # the entry was written anew
    assert (again.rejected, again.hits) == (0, 1)


def test_a_bank_file_that_changed_is_read_again(
    bank_hashes: list[str], media_posts: list[Post], tmp_path: Path
) -> None:
    pack = bank_pack(tmp_path, bank_hashes)
    load_packs([pack], CompileCache(tmp_path / "cache"))
    bank_pack(tmp_path, bank_hashes[10_000:])  # the file loses half of its hashes
    cache = CompileCache(tmp_path / "cache")
    changed = load_packs([pack], cache)
    assert (cache.hits, cache.misses) == (0, 1)
    assert media_alerts(changed, media_posts) == media_alerts(load_packs([pack]), media_posts)
    assert changed[0].banks["known"].counts()["pdq"] == len(set(bank_hashes[10_000:]))
