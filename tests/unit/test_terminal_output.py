"""What the commands print from packs and posts (titles, test texts, file names, keys, post
ids) is shown on the terminal, never obeyed by it."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from postwatch.cli import main
from tests.factories import post_doc
from tests.terminal import acting

# YAML's double-quoted escapes put ESC (\e), BEL (\a), C1 CSI (\x9b) and RLO (\u202e) in
PACK = r"""
pack: hostile
version: 1
rules:
  - id: h1
    title: "Names \e]52;c;cHduZWQ=\a [link=https://evil.example]click[/link] \x9b2J"
    severity: high
    match: {keywords: ["example front"]}
    tests:
      match:
        - {text: "Example Front \e]0;pwned\a \x9b2J \u202eexe.txt"}
      no_match:
        - {text: "Example Front \e[8m hidden"}
"""
BAD_PACK = r"""
pack: bad
version: 1
rules:
  - id: b1
    title: x
    severity: high
    match: {keywords: ["x"]}
    "\e]0;key\a": 1
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "300"}).invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def hostile_pack(folder: Path, tests: bool = True) -> Path:
    path = folder / "pack\x1b]0;title\x07.yaml"
    path.write_text(PACK if tests else PACK.partition("    tests:")[0])
    return path


def test_rules_lint_shows_file_names_and_keys_as_text(tmp_path: Path) -> None:
    code, out = run("rules", "lint", str(hostile_pack(tmp_path)))
    assert code == 1
    assert acting(out) == []
    assert "pack\\u001b]0;title\\u0007.yaml:13: h1: test no_match[0] matched" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_PACK)
    code, out = run("rules", "lint", str(bad))
    assert code == 1
    assert acting(out) == []
    assert "unknown key" in out


def test_rules_test_shows_titles_and_test_texts_as_text(tmp_path: Path) -> None:
    code, out = run("rules", "test", str(hostile_pack(tmp_path)))
    assert code == 1
    assert acting(out) == []
    assert "[link=https://evil.example]click[/link]" in out  # not rich markup either
    assert "Example Front \\u001b]0;pwned\\u0007 \\u009b2J \\u202eexe.txt" in out


def test_match_summary_and_skipped_lines_show_post_ids_and_fields_as_text(
    tmp_path: Path,
) -> None:
    post = post_doc(
        id="m:\x1b]0;pwned\x07", source="mastodon", author={"id": "m:a"}, text="Example Front"
    )
    odd = {**post, "id": "m:2", "created_at": "\x9b2J\u202e"}
    posts = tmp_path / "posts.jsonl"
    posts.write_bytes(b"\n".join(orjson.dumps(p) for p in (post, odd)))
    pack = hostile_pack(tmp_path, tests=False)
    alerts = str(tmp_path / "alerts.jsonl")
    code, out = run(
        "match", "--rules", str(pack), "--input", str(posts), "--output", alerts, "--summary"
    )
    assert code == 0
    assert acting(out) == []
    assert "hostile/h1         1  100.000%  m:\\u001b]0;pwned\\u0007" in out
    assert "posts.jsonl:2: skipped:" in out
