"""`postwatch rules test`, `rules lint` running the packs' tests, and `match --summary`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from postwatch.cli import main
from tests.unit.test_cli import FILES, run, run_match

PACKS = FILES / "packs"


def test_rules_test_prints_a_table_per_rule_and_passes() -> None:
    code, out, _ = run("rules", "test", str(PACKS / "selftested.yaml"))
    assert code == 0, out
    assert "selftested/st-names" in out
    assert "selftested/st-scoped" in out
    assert "#ExampleFront rally tonight" in out
    assert "12 tests, 0 failed, 3 rules with tests" in out


def test_rules_test_fails_on_any_miss_and_says_which() -> None:
    code, out, _ = run("rules", "test", str(PACKS / "failing-tests.yaml"))
    assert code == 1
    assert "3 tests, 2 failed" in out
    assert out.count("FAIL") == 2


def test_lint_runs_the_tests_and_reports_failures_with_locations() -> None:
    path = str(PACKS / "failing-tests.yaml")
    code, out, _ = run("rules", "lint", path, str(PACKS / "selftested.yaml"))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:11: f1: test match[1] did not match",
        f"{path}:13: f1: test no_match[0] matched",
    ]


def test_match_refuses_a_pack_that_fails_its_tests() -> None:
    result = CliRunner().invoke(
        main, ["match", "--rules", str(PACKS / "failing-tests.yaml"), "--input", "-"], input=""
    )
    assert result.exit_code == 1
    assert "failing-tests.yaml:11: f1: test match[1] did not match" in result.stderr


def test_match_summary_counts_hits_per_rule_with_samples(tmp_path: Path) -> None:
    code, _, err = run_match(tmp_path / "alerts.jsonl", "--summary")
    assert code == 0
    lines = err.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("rule "))) :]
    assert table[1].split() == [
        "heldout/h-names",
        "5",
        "71.429%",
        "rss:1,",
        "rss:2,",
        "rss:3",
    ]
    assert table[-1].split()[:3] == ["heldout/h-media", "1", "14.286%"]
