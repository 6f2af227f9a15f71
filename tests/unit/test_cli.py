"""The command line, run in-process through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from postwatch.cli import main
from postwatch.rules import alert_id

FILES = Path(__file__).parents[1] / "files"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_schema_prints_valid_json_schemas() -> None:
    for name in ("post", "alert"):
        code, out, _ = run("schema", name)
        assert code == 0
        jsonschema.Draft7Validator.check_schema(json.loads(out))


def test_lint_passes_good_pack_and_fails_bad_one_with_locations() -> None:
    code, out, _ = run("rules", "lint", str(FILES / "packs" / "good.yaml"))
    assert code == 0
    assert "ok: pack good v7, 1 rules" in out
    code, out, _ = run("rules", "lint", str(FILES / "packs" / "bad.yaml"))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 12
    assert all(line.startswith(str(FILES / "packs" / "bad.yaml") + ":") for line in lines)


def test_match_gives_exactly_the_expected_alerts(tmp_path: Path) -> None:
    output = tmp_path / "alerts.jsonl"
    code, _, err = run(
        "match",
        "--rules",
        str(FILES / "match" / "pack.yaml"),
        "--input",
        str(FILES / "match" / "posts.jsonl"),
        "--output",
        str(output),
    )
    assert code == 0
    alerts = [json.loads(line) for line in output.read_text().splitlines()]
    got = [(a["rule"]["id"], a["post"]["id"]) for a in alerts]
    assert got == [
        ("h-names", "rss:1"),
        ("h-names", "rss:2"),  # "riverguard": the phrase written as one word
        ("h-names", "rss:3"),
        ("h-call", "rss:3"),
        ("h-names", "rss:5"),
        ("h-call", "rss:5"),
        ("h-media", "rss:6"),
        ("h-author", "rss:6"),
        ("h-names", "rss:8"),
        ("h-call", "rss:8"),
    ]
    assert [a["alert_id"] for a in alerts] == [alert_id(r, 3, p) for r, p in got]
    schema = json.loads(run("schema", "alert")[1])
    for alert in alerts:
        jsonschema.validate(alert, schema)
    assert "posts.jsonl:4: skipped: not_json" in err
    assert "posts.jsonl:8: skipped: schema" in err
    assert "7 posts, 10 alerts, 2 skipped lines" in err


def test_match_with_a_broken_pack_fails_with_its_problems() -> None:
    result = CliRunner().invoke(
        main, ["match", "--rules", str(FILES / "packs" / "bad.yaml"), "--input", "-"], input=""
    )
    assert result.exit_code == 1
    assert "bad.yaml:13: r1: 'severity' must be one of" in result.stderr
    assert "12 problem(s) in rule packs" in result.stderr
