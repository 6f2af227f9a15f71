"""Hash banks: specs, the hash-list formats, PDQ distance and quality, negative banks,
export."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postwatch.rules.language.errors import PackError
from postwatch.rules.language.model import Media
from postwatch.rules.matching.banks import (
    BankSet,
    BankSpec,
    BankSpecError,
    HashBank,
    export_csv,
    export_plain,
    load_bank,
)
from tests.conftest import SHARED_DATA

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"  # sample-b.jpg
SHA256 = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def flipped(value: str, bits: int) -> str:
    """The hash with its lowest `bits` bits flipped: at that Hamming distance."""
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


def bank_of(doc: dict[str, Any], base: Path = Path()) -> HashBank:
    return load_bank(BankSpec.parse("known", doc, base))


def test_spec_problems_name_the_key_at_fault() -> None:
    with pytest.raises(BankSpecError) as caught:
        BankSpec.parse(
            "b",
            {
                "sha256": ["abc"],
                "pdq_max_distance": 40,
                "min_quality": True,
                "negative": "yes",
                "format": "xml",
                "colour": "red",
            },
            Path(),
        )
    keys = [key for key, _ in caught.value.problems]
    assert keys == [
        "colour",
        "sha256",
        "format",
        "format",
        "pdq_max_distance",
        "min_quality",
        "negative",
    ]
    assert "not a sha256 hex digest: 'abc'; bank 'b' format must be one of" in str(caught.value)


def test_spec_defaults_and_file_relative_to_the_pack() -> None:
    spec = BankSpec.parse("b", {"pdq": [PDQ.upper()], "file": "lists/b.txt"}, Path("/packs"))
    assert (spec.pdq, spec.file, spec.pdq_max_distance, spec.min_quality, spec.negative) == (
        (PDQ,),
        Path("/packs/lists/b.txt"),
        31,
        50,
        False,
    )


def test_exact_hashes_match_in_any_case() -> None:
    bank = bank_of({"sha256": [SHA256], "md5": [MD5.upper()]})
    hits = bank.lookup(Media(sha256=SHA256.upper(), md5=MD5))
    assert [(h.algo, h.value, h.distance) for h in hits] == [
        ("sha256", SHA256, 0),
        ("md5", MD5, 0),
    ]
    assert bank.lookup(Media(sha256="0" * 64)) == []


def test_pdq_matches_within_the_bank_distance_only() -> None:
    bank = bank_of({"pdq": [PDQ]})
    [hit] = bank.lookup(Media(pdq=flipped(PDQ, 31), pdq_quality=100))
    assert (hit.bank, hit.algo, hit.value, hit.matched, hit.distance) == (
        "known",
        "pdq",
        PDQ,
        flipped(PDQ, 31),
        31,
    )
    assert bank.lookup(Media(pdq=flipped(PDQ, 32), pdq_quality=100)) == []
    strict = bank_of({"pdq": [PDQ], "pdq_max_distance": 10})
    assert strict.lookup(Media(pdq=flipped(PDQ, 10)))
    assert strict.lookup(Media(pdq=flipped(PDQ, 11))) == []


def test_low_quality_pdq_neither_enters_nor_matches(tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(f"pdq,quality\n{PDQ},49\n{flipped(PDQ, 200)},50\n")
    bank = bank_of({"file": "list.csv"}, tmp_path)
    assert bank.counts()["pdq"] == 1
    assert bank.skipped["low_quality"] == 1
    assert bank.lookup(Media(pdq=flipped(PDQ, 200), pdq_quality=49)) == []
    assert bank.lookup(Media(pdq=flipped(PDQ, 200), pdq_quality=50))
    assert bank.lookup(Media(pdq=flipped(PDQ, 200)))  # quality unknown: matched
    lenient = bank_of({"file": "list.csv", "min_quality": 0}, tmp_path)
    assert lenient.counts()["pdq"] == 2


def test_negative_banks_suppress_every_match_of_the_media() -> None:
    known = bank_of({"pdq": [PDQ], "sha256": [SHA256]})
    benign = load_bank(
        BankSpec.parse("benign", {"pdq": [flipped(PDQ, 20)], "negative": True}, Path())
    )
    banks = BankSet([known, benign])
    # 25 bits from the known hash and 5 from the benign one: no match, not even by SHA-256
    assert banks.lookup(Media(pdq=flipped(PDQ, 25), sha256=SHA256)) == []
    assert [h.bank for h in BankSet([known]).lookup(Media(pdq=flipped(PDQ, 25)))] == ["known"]
    # 25 bits from the known hash in other places: 45 from the benign one
    other = f"{int(PDQ, 16) ^ (((1 << 25) - 1) << 100):064x}"
    assert [h.distance for h in banks.lookup(Media(pdq=other))] == [25]


BENIGN = f"{int(PDQ, 16) ^ (((1 << 36) - 1) << 120):064x}"  # 36 bits from PDQ
HALFWAY = f"{int(PDQ, 16) ^ (((1 << 18) - 1) << 120):064x}"  # 18 from PDQ and from BENIGN


def mixed_banks() -> BankSet:
    """Two PDQ hashes 6 bits apart with exact ones, a strict bank (distance 10, quality 80)
    and a negative bank."""
    return BankSet(
        [
            bank_of({"pdq": [PDQ, flipped(PDQ, 6)], "sha256": [SHA256], "md5": [MD5]}),
            load_bank(
                BankSpec.parse(
                    "strict",
                    {"pdq": [flipped(PDQ, 100)], "pdq_max_distance": 10, "min_quality": 80},
                    Path(),
                )
            ),
            load_bank(BankSpec.parse("benign", {"pdq": [BENIGN], "negative": True}, Path())),
        ]
    )


def test_a_batch_of_media_gets_each_its_own_hits() -> None:
    near_strict = flipped(PDQ, 104)  # 4 bits from the strict bank's hash
    media = [
        Media(pdq=flipped(PDQ, 3).upper(), pdq_quality=90),
        Media(pdq=flipped(PDQ, 40)),
        Media(pdq=near_strict, pdq_quality=90),
        Media(pdq=near_strict, pdq_quality=70),  # too blurry for the strict bank only
        Media(pdq=HALFWAY, sha256=SHA256),  # suppressed, SHA-256 and all
        Media(sha256=SHA256, md5=MD5.upper()),
        Media(pdq="not a hash", md5="0" * 32),
        Media(),
    ]
    found = mixed_banks().lookup_many(media)
    assert [[(h.bank, h.algo, h.distance, h.matched) for h in hits] for hits in found] == [
        [
            ("known", "pdq", 3, flipped(PDQ, 3).upper()),
            ("known", "pdq", 3, flipped(PDQ, 3).upper()),
        ],
        [],
        [("strict", "pdq", 4, near_strict)],
        [],
        [],
        [("known", "sha256", 0, SHA256), ("known", "md5", 0, MD5.upper())],
        [],
        [],
    ]
    assert [h.value for h in found[0]] == [PDQ, flipped(PDQ, 6)]  # same distance: bank order
    assert mixed_banks().lookup_many([]) == []


def some_bits(draw: st.DrawFn, value: str) -> str:
    bits = draw(st.lists(st.integers(0, 255), max_size=40, unique=True))
    return f"{int(value, 16) ^ sum(1 << bit for bit in bits):064x}"


@st.composite
def some_media(draw: st.DrawFn) -> Media:
    """Media near the banks' hashes or not, of any quality, with or without exact hashes."""
    pdq = draw(
        st.one_of(
            st.sampled_from([None, "xyz", PDQ.upper()]),
            st.sampled_from([PDQ, flipped(PDQ, 100), HALFWAY]).map(lambda v: some_bits(draw, v)),
        )
    )
    return Media(
        pdq=pdq,
        pdq_quality=draw(st.sampled_from([None, 0, 49, 50, 79, 80, 100])),
        sha256=draw(st.sampled_from([None, SHA256, SHA256.upper(), "0" * 64])),
        md5=draw(st.sampled_from([None, MD5, "1" * 32])),
    )


@settings(max_examples=150, deadline=None)
@given(media=st.lists(some_media(), max_size=30))
def test_looking_up_a_batch_equals_looking_up_its_media_one_by_one(media: list[Media]) -> None:
    banks = mixed_banks()
    assert banks.lookup_many(media) == [banks.lookup(item) for item in media]
    for bank in banks.banks.values():
        assert bank.lookup_many(media) == [bank.lookup(item) for item in media]


def test_hashes_added_later_match_at_once() -> None:
    bank = HashBank("live")
    assert bank.add("pdq", PDQ)
    assert not bank.add("pdq", PDQ.upper())  # already there
    assert not bank.add("pdq", flipped(PDQ, 100), quality=10)
    assert bank.lookup(Media(pdq=flipped(PDQ, 3)))
    with pytest.raises(ValueError, match="not a md5 hash"):
        bank.add("md5", "xyz")


def test_python_threatexchange_local_file(tmp_path: Path) -> None:
    source = SHARED_DATA / "threatexchange" / "local_file_sample_signals.extracted.txt"
    bank = bank_of({"file": str(source)}, tmp_path)
    assert bank.counts() == {"sha256": 2, "md5": 2, "sha512": 0, "pdq": 16}
    assert bank.skipped == {"other_type": 3}  # url and raw_text signals
    assert bank.lookup(Media(pdq=PDQ))


def test_python_threatexchange_dataset_csv() -> None:
    source = SHARED_DATA / "threatexchange" / "tx_dataset_print_csv.extracted.csv"
    bank = bank_of({"file": str(source)})
    assert len(bank) == 0
    assert bank.skipped == {"other_type": 1}


def test_plain_file_problems_carry_file_and_line(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"# known media\n{MD5}\n{SHA256}\npdq {PDQ}\nnot-a-hash\npdq 12ab\n")
    with pytest.raises(PackError) as caught:
        bank_of({"file": "list.txt"}, tmp_path)
    assert [(p.line, p.message.split(":")[0]) for p in caught.value.problems] == [
        (3, "64 hex digits may be SHA-256 or PDQ"),
        (5, "not a hex hash of a known length"),
        (6, "not a pdq hash (64 hex digits)"),
    ]
    assert all(p.file == str(listing) for p in caught.value.problems)


ENVIRON_LINE = "TOKEN=s3cr3t-9f8e7d"  # what a file a pack names must never show in an error


@pytest.mark.parametrize(
    ("name", "content", "fmt", "lines"),
    [
        ("environ", f"HOME=/root\0{ENVIRON_LINE}\0", None, [1]),  # as /proc/self/environ reads
        ("list.txt", f"# ok\npdq {ENVIRON_LINE}\n{ENVIRON_LINE}\n", None, [2, 3]),
        ("list.txt", f"{MD5}\n{ENVIRON_LINE}\n", "md5", [2]),
        ("list.csv", f"signal_type,signal_str\npdq,{ENVIRON_LINE}\n", None, [2]),
        ("list.csv", f"sha256,quality\n{ENVIRON_LINE},{ENVIRON_LINE}\n", None, [2]),
        (
            "tat.json",
            json.dumps({"results": [{"hash_digest": ENVIRON_LINE, "algorithm": "MD5"}]}),
            None,
            [0],
        ),
        (
            "bank.jsonl",
            json.dumps({"signals": {"pdq": ENVIRON_LINE}}) + f"\n{{{ENVIRON_LINE}\n",
            None,
            [1, 2],
        ),
    ],
)
def test_file_problems_name_lines_and_never_quote_the_file(
    tmp_path: Path, name: str, content: str, fmt: str | None, lines: list[int]
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(PackError) as caught:
        bank_of({"file": name} | ({"format": fmt} if fmt else {}), tmp_path)
    assert [p.line for p in caught.value.problems] == lines
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_lines_end_in_any_way(tmp_path: Path, end: str) -> None:
    (tmp_path / "list.csv").write_bytes(
        end.join(["\ufeffhash_type,hash_value", f"PDQ,{PDQ}", f"MD5,{MD5}", "MD5,abc", ""]).encode()
    )
    with pytest.raises(PackError) as caught:
        bank_of({"file": "list.csv"}, tmp_path)
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (4, "not a md5 hash (32 hex digits)")
    ]


def test_a_file_that_is_not_utf8_is_named_by_its_line_alone(tmp_path: Path) -> None:
    text = f"\ufeffmd5 {MD5}\r\n".encode() + b"\xff" + ENVIRON_LINE.encode()
    (tmp_path / "list.txt").write_bytes(text)
    with pytest.raises(PackError) as caught:
        bank_of({"file": "list.txt"}, tmp_path)
    assert [(p.line, p.message) for p in caught.value.problems] == [(2, "not UTF-8 text")]
    assert "s3cr3t" not in str(caught.value)


def test_single_type_files_take_bare_hashes(tmp_path: Path) -> None:
    (tmp_path / "sha.txt").write_text(f"{SHA256}\n\n{SHA256.upper()}\n")
    assert bank_of({"file": "sha.txt", "format": "sha256"}, tmp_path).counts()["sha256"] == 1
    (tmp_path / "pdq.txt").write_text(f"{PDQ}\n")
    assert bank_of({"file": "pdq.txt", "format": "pdq"}, tmp_path).counts()["pdq"] == 1


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (f"{PDQ}\n{PDQ[:-1]}0\n{PDQ.upper()}\n", []),  # read in bulk
        (f"{PDQ}\n{PDQ[:-1]}0", []),  # no newline at the end
        (f"{PDQ}\n\n  {PDQ[:-1]}0  \n# a comment\n", []),  # line by line
        (f"{PDQ}\n{PDQ[:-1]}g\n{PDQ}\n", [2]),
        (f"{PDQ} 100\n{PDQ[:-1]}0 90\n", []),  # the first word of a line is its hash
        (f"{PDQ}\n{PDQ[:-1]}\n", [2]),
    ],
)
def test_a_file_of_one_algorithm_reads_alike_in_bulk_and_line_by_line(
    tmp_path: Path, text: str, lines: list[int]
) -> None:
    (tmp_path / "pdq.txt").write_text(text)
    if lines:
        with pytest.raises(PackError) as caught:
            bank_of({"file": "pdq.txt", "format": "pdq"}, tmp_path)
        assert [p.line for p in caught.value.problems] == lines
        return
    bank = bank_of({"file": "pdq.txt", "format": "pdq"}, tmp_path)
    assert bank.counts()["pdq"] == 2
    hits = bank.lookup(Media(pdq=f"{PDQ[:-1]}0", pdq_quality=100))
    assert [hit.distance for hit in hits] == [0, 1]


def test_csv_with_a_hash_and_a_type_column(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(
        f"id,hash_type,hash_value\n1,PDQ,{PDQ}\n2,MD5,{MD5}\n3,TMK,abcd\n"
    )
    bank = bank_of({"file": "list.csv"}, tmp_path)
    assert bank.counts() == {"sha256": 0, "md5": 1, "sha512": 0, "pdq": 1}
    assert bank.skipped == {"other_type": 1}
    (tmp_path / "bad.csv").write_text("id,digest\n1,abc\n")
    with pytest.raises(PackError, match=r"bad\.csv:1: no hash column"):
        bank_of({"file": "bad.csv"}, tmp_path)


def test_tech_against_terrorism_hash_list(tmp_path: Path) -> None:
    sha512 = "ab" * 64
    page = {
        "count": 4,
        "next": None,
        "previous": None,
        "checkpoint": "1724856487.709035,10594",
        "results": [
            {
                "hash_digest": PDQ,
                "algorithm": "PDQ",
                "ideology": "islamist",
                "file_type": "jpg",
                "deleted": False,
                "updated_on": 1704901040.2,
                "created_on": "2025-03-03",
                "id": 1,
            },
            {
                "hash_digest": MD5,
                "algorithm": "MD5",
                "ideology": "far-right",
                "file_type": "mp4",
                "deleted": False,
                "updated_on": 1704901040.2,
                "created_on": "2025-03-03",
                "id": 2,
            },
            {
                "hash_digest": sha512,
                "algorithm": "SHA512",
                "ideology": "islamist",
                "file_type": "pdf",
                "deleted": False,
                "updated_on": 1.0,
                "created_on": "x",
                "id": 3,
            },
            {
                "hash_digest": SHA256,
                "algorithm": "SHA256",
                "ideology": "islamist",
                "file_type": "jpg",
                "deleted": True,
                "updated_on": 1.0,
                "created_on": "x",
                "id": 4,
            },
        ],
    }
    (tmp_path / "tat.json").write_text(json.dumps(page))
    bank = bank_of({"file": "tat.json"}, tmp_path)
    assert bank.counts() == {"sha256": 0, "md5": 1, "sha512": 1, "pdq": 1}
    assert bank.skipped == {"deleted": 1}
    assert bank.lookup(Media(md5=MD5))


def test_malformed_tat_entries_are_named() -> None:
    source = SHARED_DATA / "tcap" / "tat_hash_list_v2_page.extracted.json"  # mock values
    with pytest.raises(PackError) as caught:
        bank_of({"file": str(source), "format": "tat"})
    assert [p.message for p in caught.value.problems] == [
        "results[0]: not a md5 hash (32 hex digits)",
        "results[1]: not a md5 hash (32 hex digits)",
        "results[2]: not a pdq hash (64 hex digits)",
    ]


def test_hma_bank_content(tmp_path: Path) -> None:
    items = [
        {"id": 1, "bank": {"name": "b"}, "signals": {"pdq": PDQ, "video_md5": MD5}},
        {"id": 2, "bank": {"name": "b"}, "signals": {"url_md5": MD5}},
    ]
    (tmp_path / "bank.json").write_text(json.dumps(items))
    assert bank_of({"file": "bank.json"}, tmp_path).counts()["pdq"] == 1
    (tmp_path / "bank.jsonl").write_text("\n".join(json.dumps(i) for i in items) + "\n{oops\n")
    with pytest.raises(PackError, match=r"bank.jsonl:3: invalid JSON"):
        bank_of({"file": "bank.jsonl"}, tmp_path)


def test_a_missing_file_is_a_pack_problem(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="cannot read hash list"):
        bank_of({"file": "nowhere.txt"}, tmp_path)


def test_many_problems_are_cut_short(tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_text("junk\n" * 1000)
    with pytest.raises(PackError) as caught:
        bank_of({"file": "junk.txt"}, tmp_path)
    assert len(caught.value.problems) == 21
    assert caught.value.problems[-1].message == "too many problems; stopped"


@pytest.mark.parametrize(("export", "fmt"), [(export_plain, "plain"), (export_csv, "csv")])
def test_export_and_load_again_give_the_same_bank(tmp_path: Path, export: Any, fmt: str) -> None:
    bank = bank_of({"pdq": [PDQ, flipped(PDQ, 40)], "sha256": [SHA256], "md5": [MD5]})
    out = io.StringIO()
    assert export(bank, out) == 4
    (tmp_path / "exported").write_text(out.getvalue())
    again = bank_of({"file": "exported", "format": fmt}, tmp_path)
    assert sorted(again.entries()) == sorted(bank.entries())
    assert out.getvalue().splitlines()[0] == (
        f"sha256 {SHA256}" if fmt == "plain" else "signal_type,signal_str"
    )


# Banks in rule packs: loaded by the pack loader, matched by the engine, through the CLI.

PACK = """\
pack: media
version: 2
banks:
  known:
    file: lists/known.txt
    sha256: ["{sha256}"]
  strict:
    pdq: ["{strict}"]
    pdq_max_distance: 8
  benign:
    pdq: ["{benign}"]
    negative: true
rules:
  - id: known-media
    title: Known media
    severity: high
    match: {{hashes: {{bank: known}}}}
  - id: strict-media
    title: Known media, near copies only
    match: {{hashes: {{bank: strict}}}}
"""


def write_pack(folder: Path) -> Path:
    (folder / "lists").mkdir()
    (folder / "lists" / "known.txt").write_text(f"# from a partner\npdq {PDQ}\nmd5 {MD5}\n")
    pack = folder / "pack.yaml"
    strict = f"{int(PDQ, 16) ^ (0xFF << 200):064x}"  # 8 bits from PDQ, elsewhere
    benign = f"{int(PDQ, 16) ^ (0xFFFFF << 120):064x}"  # 20 bits from PDQ
    pack.write_text(PACK.format(sha256=SHA256, strict=strict, benign=benign))
    return pack


def post_line(post_id: str, **media: Any) -> str:
    return json.dumps(
        {
            "schema": "postwatch.post/1",
            "id": f"test:{post_id}",
            "source": "test",
            "author": {"id": "test:a"},
            "created_at": "2025-07-25T10:00:00Z",
            "text": "",
            "media": [{"kind": "image"}, {"kind": "image", **media}],
        }
    )


def test_packs_match_pdq_by_distance_with_negative_banks_through_postwatch_match(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner  # noqa: PLC0415 - only this test runs the CLI

    from postwatch.cli import main  # noqa: PLC0415

    pack = write_pack(tmp_path)
    near = flipped(PDQ, 12)  # 12 from PDQ, 20 from the strict hash, 32 from benign
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        "\n".join(
            [
                post_line("near", pdq=near.upper(), pdq_quality=90),
                post_line("far", pdq=flipped(PDQ, 40), pdq_quality=90),
                post_line("blurry", pdq=near, pdq_quality=30),  # below quality 50
                post_line("benign", pdq=f"{int(PDQ, 16) ^ (0xFFFFF << 122):064x}"),
                post_line("exact", md5=MD5.upper(), sha256=SHA256),
            ]
        )
        + "\n"
    )
    alerts_file = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(
        main, ["match", "--rules", str(pack), "--input", str(posts), "--output", str(alerts_file)]
    )
    assert result.exit_code == 0, result.stderr
    alerts = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    assert [(a["post"]["id"], a["rule"]["id"]) for a in alerts] == [
        ("test:near", "known-media"),
        ("test:exact", "known-media"),
    ]
    assert alerts[0]["evidence"] == [
        {
            "type": "pdq",
            "field": "media[1]",
            "value": PDQ,
            "matched": near.upper(),
            "bank": "known",
            "distance": 12,
        }
    ]
    assert alerts[1]["evidence"] == [
        {
            "type": "sha256",
            "field": "media[1]",
            "value": SHA256,
            "matched": SHA256,
            "bank": "known",
        },
        {"type": "md5", "field": "media[1]", "value": MD5, "matched": MD5.upper(), "bank": "known"},
    ]


def test_the_benign_post_is_suppressed_only_by_its_negative_bank(tmp_path: Path) -> None:
    from postwatch.rules import Engine, load_pack, post_from_dict  # noqa: PLC0415

    pack = load_pack(write_pack(tmp_path))
    engine = Engine([pack])
    benign_copy = f"{int(PDQ, 16) ^ (0xFFFFF << 122):064x}"  # 20 from PDQ, 4 from benign
    post = post_from_dict(json.loads(post_line("b", pdq=benign_copy)))
    assert engine.evaluate(post) == []
    assert pack.banks["benign"].negative
    without_negative = Engine([replace(pack, banks={"known": pack.banks["known"]})])
    assert [m.rule.id for m in without_negative.evaluate(post)] == ["known-media"]


def test_bank_problems_in_a_pack_carry_the_pack_and_the_list_lines(tmp_path: Path) -> None:
    from postwatch.rules import load_pack  # noqa: PLC0415

    (tmp_path / "list.txt").write_text(f"pdq {PDQ}\npdq nothex\n")
    (tmp_path / "pack.yaml").write_text(
        "pack: p\nversion: 1\nbanks:\n  known:\n    file: list.txt\n  other:\n"
        "    pdq: ['12']\n    pdq_max_distance: 40\n"
        "rules:\n  - id: r\n    title: t\n    match: {hashes: {bank: known}}\n"
    )
    with pytest.raises(PackError) as caught:
        load_pack(tmp_path / "pack.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'list.txt'}:2: not a pdq hash (64 hex digits)",
        f"{tmp_path / 'pack.yaml'}:7: not a pdq hex digest: '12'",
        f"{tmp_path / 'pack.yaml'}:8: bank 'other' pdq_max_distance must be an integer 0..31",
    ]
