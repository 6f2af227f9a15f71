"""`postwatch rules bank PACK BANK --file FILE`: a hash list that cannot be read is refused
with its file and line, exit status 1, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from postwatch.cli import main
from postwatch.rules.matching.banks.formats import MAX_BANK_FILE_BYTES

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("list.csv", "pdq,quality\n" + PDQ + "," + "9" * 200_000 + "\n", ":2: not CSV:"),
        ("list.json", '{"results": [{"hash_digest": ' + "1" * 5000 + "}]}", ":1: a JSON number"),
        ("list.jsonl", "[" * 100_000 + "]" * 100_000, ":1: JSON nested deeper"),
        ("list.txt", "pdq \xff\n", ":1: not a pdq hash"),
        ("list.csv", b"pdq\n\xff\xfe\n", ":2: not UTF-8 text"),
    ],
)
def test_a_hash_list_that_cannot_be_read_is_refused_by_line(
    tmp_path: Path, name: str, content: str | bytes, expected: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = CliRunner().invoke(main, ["rules", "bank", "p", "known", "--file", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{path}{expected}" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_hash_list_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as file:
        file.truncate(MAX_BANK_FILE_BYTES + 1)  # sparse: nothing is written
    result = CliRunner().invoke(main, ["rules", "bank", "p", "known", "--file", str(path)])
    assert result.exit_code == 1
    assert f"a hash list is at most {MAX_BANK_FILE_BYTES:,} bytes" in result.output
