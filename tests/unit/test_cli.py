"""The command line, run in-process through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from postwatch.cli import main
from postwatch.connectors.options import offered, summary_of
from postwatch.connectors.registry import CONNECTORS
from postwatch.rules import Severity, alert_id

FILES = Path(__file__).parents[1] / "files"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_match(output: Path, *options: str) -> tuple[int, str, str]:
    """`postwatch match` of the match fixtures' pack over their posts into `output`."""
    match = FILES / "match"
    return run(
        "match",
        *("--rules", str(match / "pack.yaml"), "--input", str(match / "posts.jsonl")),
        *("--output", str(output), *options),
    )


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
    code, _, err = run_match(output)
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


def test_match_refuses_an_output_it_cannot_write_or_that_is_its_input(tmp_path: Path) -> None:
    posts = tmp_path / "posts.jsonl"
    posts.write_bytes((FILES / "match" / "posts.jsonl").read_bytes())
    before = posts.read_bytes()
    refusals = {
        str(posts): f"Error: --output {posts} is the input file",
        str(tmp_path): f"Error: cannot write {tmp_path}: Is a directory",
        str(tmp_path / "no" / "x"): f"Error: cannot write {tmp_path / 'no' / 'x'}: No such file",
        "/dev/full": "Error: cannot write /dev/full: No space left on device",
    }
    for output, said in refusals.items():
        pack = str(FILES / "match" / "pack.yaml")
        args = ["match", "--rules", pack, "--input", str(posts), "--output", output]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1  # a ClickException, not a traceback
        assert isinstance(result.exception, SystemExit)
        assert said in result.stderr
    assert posts.read_bytes() == before


def test_match_with_a_broken_pack_fails_with_its_problems() -> None:
    result = CliRunner().invoke(
        main, ["match", "--rules", str(FILES / "packs" / "bad.yaml"), "--input", "-"], input=""
    )
    assert result.exit_code == 1
    assert "bad.yaml:13: r1: 'severity' must be one of" in result.stderr
    assert "12 problem(s) in rule packs" in result.stderr


def options_of(help_text: str) -> dict[str, str]:
    """The options a command's help lists: each flag with its help, whitespace folded."""
    blocks: dict[str, list[str]] = {}
    lines = help_text.split("\nOptions:\n", 1)[1].splitlines()
    for line in lines:
        if line.startswith("  -"):
            flag = line.split()[0].rstrip(",")
            blocks[flag] = line.split()[1:]
        elif line.strip() and blocks:
            blocks[flag] += line.split()
    return {flag: " ".join(words) for flag, words in blocks.items()}


def test_connect_offers_every_registered_connector_with_its_options_then_the_common_ones() -> None:
    code, out, _ = run("connect", "--help")
    assert code == 0
    commands = out.split("\nCommands:\n", 1)[1].split()
    assert [word for word in commands if word in CONNECTORS or word == "jsonl"] == sorted(
        [*CONNECTORS, "jsonl"]
    )
    for name, connector in CONNECTORS.items():
        code, out, _ = run("connect", name, "--help")
        assert code == 0
        assert summary_of(connector.options) in " ".join(out.split())
        assert "Runs until stopped" in out
        options = options_of(out)
        assert list(options) == [
            *(option.flag for option in offered(connector.options)),
            "--metrics-port",
            "--name",
            "-h",
        ]
        for option in offered(connector.options):
            shown = options[option.flag]
            assert " ".join(option.about.help.split()) in shown
            if option.about.envvar:
                assert f"env var: {option.about.envvar}" in shown
            if option.about.secret:
                assert "better from the environment, where the process list does not show" in shown


def test_every_option_that_takes_a_secret_is_read_from_the_environment_too() -> None:
    secrets = {
        f"{name} {option.flag}"
        for name, connector in CONNECTORS.items()
        for option in offered(connector.options)
        if option.about.secret
    }
    assert secrets == {
        "mastodon --token",
        "webhook --token",
        "webhook --hmac-secret",
        "x --bearer-token",
    }


def test_forward_says_a_destination_that_holds_a_secret_is_better_in_the_environment() -> None:
    code, out, _ = run("alerts", "forward", "--help")
    assert code == 0
    assert (
        "default POSTWATCH_FORWARD_TO, better for a URL that holds a secret"
        in options_of(out)["--to"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["webhook", "--listen", "8080"], "Invalid value for --listen: expected HOST:PORT"),
        (["webhook", "--listen", "host:²"], "Invalid value for --listen: expected HOST:PORT"),
        (
            ["bluesky", "--url", "wss://j.example/subscribe", "--did", "did:plc:a", "--did", "b"],
            "Invalid value for --did: not a DID: b",
        ),
        (
            ["mastodon", "--url", "https://m.example", "--stream", "nope"],
            "Invalid value for --stream: ",
        ),
        (
            ["telegram", "--channels", "examplenews,not a name"],
            "Invalid value for --channels: not a public channel username: 'not a name'",
        ),
        (["x", "--bearer-token", "t", "--backfill-minutes", "6"], "'--backfill-minutes'"),
    ],
)
def test_a_value_a_connector_cannot_take_is_refused_with_its_option(
    args: list[str], message: str
) -> None:
    code, _, err = run("connect", *args)
    assert code == 2
    assert message in err


def test_tail_offers_every_severity_as_the_minimum() -> None:
    code, out, _ = run("alerts", "tail", "--help")
    assert code == 0
    labels = "|".join(severity.name.lower() for severity in Severity)
    assert f"--min-severity [{labels}]" in out


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--timeout", "nan", "'nan' is not a number"),
        ("--timeout", "inf", "inf is not in the range 0<x<=1000000.0"),
        ("--timeout", "0", "0.0 is not in the range 0<x<=1000000.0"),
        ("--max-bytes", "9" * 20, f"{'9' * 20} is not in the range 1<=x<=1099511627776"),
    ],
)
def test_numeric_options_refuse_what_is_no_usable_number(
    tmp_path: Path, option: str, value: str, said: str
) -> None:
    media = tmp_path / "x.jpg"
    media.write_bytes(b"x")
    result = CliRunner().invoke(main, ["hash", option, value, str(media)])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': {said}" in result.stderr
