"""Published packs stand alone: a worker never reads a file a published pack names, and
`rules publish` sends a bank file's hashes in the pack."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from postwatch.rules import Pack, PackError, parse_pack
from postwatch.rules.language.loader import MAX_PACK_CHARS
from postwatch.rules.language.published import (
    PublishedPack,
    compile_for_workers,
    compile_packs,
    content_hash,
    publishable_text,
)
from postwatch.rules.matching.cache import CompileCache
from tests.unit.rules.conftest import make_post

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SHA256 = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
PACK = f"""pack: banked
version: 2
# the known hashes come from a file next to the pack
banks:
  known:
    file: lists/known.txt
    pdq_max_distance: 20
  inline: {{md5: ['{MD5}']}}
rules:
  - id: known-media
    title: Known media
    match:
      any: [{{hashes: {{bank: known}}}}, {{hashes: {{bank: inline}}}}]
"""


def published(text: str) -> PublishedPack:
    return PublishedPack("banked", 2, text, content_hash(text), datetime.now(UTC), "someone")


def write(folder: Path, pack: str, hashes: str) -> Path:
    (folder / "lists").mkdir()
    (folder / "lists" / "known.txt").write_text(hashes)
    path = folder / "pack.yaml"
    path.write_text(pack)
    return path


def test_a_bank_file_is_published_as_the_hashes_it_holds(tmp_path: Path) -> None:
    text = publishable_text(write(tmp_path, PACK, f"pdq {PDQ}\nsha256 {SHA256}\n"))
    pack = published(text).load()
    assert sorted(pack.banks["known"].entries()) == [("pdq", PDQ), ("sha256", SHA256)]
    assert pack.banks["known"].pdq_max_distance == 20
    assert list(pack.banks["inline"].entries()) == [("md5", MD5)]
    assert "known.txt" not in text
    assert publishable_text(tmp_path / "pack.yaml") == text  # the same pack, the same text


def test_a_pack_whose_banks_name_no_file_is_published_as_written(tmp_path: Path) -> None:
    without_file = PACK.replace("    file: lists/known.txt\n", f"    pdq: ['{PDQ}']\n")
    path = write(tmp_path, without_file, "")
    assert publishable_text(path) == without_file


def test_a_bank_file_too_large_to_carry_in_the_pack_is_refused_with_the_way_to_send_it(
    tmp_path: Path,
) -> None:
    count = MAX_PACK_CHARS // 64 + 1
    hashes = "".join(f"pdq {n:064x}\n" for n in range(count))
    with pytest.raises(PackError) as caught:
        publishable_text(write(tmp_path, PACK, hashes))
    [problem] = caught.value.problems
    assert str(problem) == (
        f"{tmp_path / 'pack.yaml'}:0: with the hashes of its bank files the pack is larger than"
        f" {MAX_PACK_CHARS:,} characters: send the hashes with"
        " `postwatch rules bank banked BANK --file FILE` and leave the file out of the pack"
    )


def test_a_worker_never_reads_a_file_a_published_pack_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, PACK, f"pdq {PDQ}\n")
    monkeypatch.chdir(tmp_path)  # where a worker would have found lists/known.txt
    with pytest.raises(PackError) as caught:
        published(PACK).load()
    assert [str(p) for p in caught.value.problems] == [
        "banked@v2:6: bank 'known' names a file, which a pack from the rules topic may not:"
        " `rules publish` puts the file's hashes in the pack"
    ]


@pytest.mark.parametrize(("pack", "version"), [("demo", 2), ("banked", 3)])
def test_a_record_whose_pack_or_version_is_not_its_texts_is_refused(
    pack: str, version: int
) -> None:
    text = PACK.replace("    file: lists/known.txt\n", f"    pdq: ['{PDQ}']\n")
    record = PublishedPack(pack, version, text, content_hash(text), datetime.now(UTC), "x")
    with pytest.raises(PackError) as caught:
        record.load()
    assert [str(p) for p in caught.value.problems] == [
        f"{pack}@v{version}:1: the text is pack banked v2, the record says {pack} v{version}"
    ]


def _keywords_pack(pack_id: str, version: int, terms: list[str]) -> str:
    return (
        f"pack: {pack_id}\nversion: {version}\nrules:\n"
        f"  - {{id: {pack_id}-r, title: t, match: {{keywords: {terms}}}}}\n"
    )


def test_what_publish_compiles_for_the_workers_is_what_they_take_from_the_cache(
    tmp_path: Path,
) -> None:
    """The engine `rules publish` compiles for the workers (their file packs with the latest
    published versions in place) is the one a worker builds when it applies the new version:
    it finds every matcher in the shared cache and compiles nothing."""
    files = [
        parse_pack(_keywords_pack("first", 1, ["example front"]), "first.yaml"),
        parse_pack(_keywords_pack("second", 1, ["sample brigade"]), "second.yaml"),
    ]
    before = [
        published_version("second", 2, ["sample brigade", "river guard"]),
        published_version("third", 1, ["north star"]),
        published_version("broken", 1, ["x"], text="pack: broken\nversion: 1\nrules: 7\n"),
    ]
    applied: dict[str, Pack] = {}
    for version in before:  # what the worker applied before, one record after another
        try:
            applied[version.pack] = version.load()
        except PackError:
            continue
    new = published_version("second", 3, ["sample brigade", "river guard", "red river"])
    compile_for_workers(files, [*before, new], CompileCache(tmp_path))
    worker = CompileCache(tmp_path)
    applied[new.pack] = new.load(worker)
    engine = compile_packs(files, applied, cache=worker)
    assert (worker.hits, worker.misses, worker.rejected) == (2, 0, 0)
    assert {rule.id for rule in engine.rules} == {"first-r", "second-r", "third-r"}
    (match,) = engine.evaluate(make_post(text="the red river rises"))
    assert (match.rule.pack, match.rule.version) == ("second", 3)


def published_version(
    pack_id: str, version: int, terms: list[str], *, text: str | None = None
) -> PublishedPack:
    body = text if text is not None else _keywords_pack(pack_id, version, terms)
    return PublishedPack(pack_id, version, body, content_hash(body), datetime.now(UTC), "a")
