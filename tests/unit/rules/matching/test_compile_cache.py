"""The compile cache: a pack taken from it matches exactly as one compiled afresh, and an
entry that is corrupted, cut short or another pack's is rejected and compiled anew."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from postwatch.rules import Engine, Match, Pack, Post, load_packs
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
