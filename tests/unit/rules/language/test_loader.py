from __future__ import annotations

from pathlib import Path

import pytest

from postwatch.rules import PackError, Severity, Status, load_pack, load_packs, parse_pack
from postwatch.rules.language.loader import correlation_of

FILES = Path(__file__).parents[3] / "files" / "packs"


def problems(text: str) -> list[str]:
    with pytest.raises(PackError) as caught:
        parse_pack(text, "p.yaml")
    return [str(p) for p in caught.value.problems]


def test_every_problem_is_reported_with_file_line_and_rule() -> None:
    with pytest.raises(PackError) as caught:
        load_pack(FILES / "bad.yaml")
    path = str(FILES / "bad.yaml")
    assert [str(p).removeprefix(path + ":") for p in caught.value.problems] == [
        "3: unknown key 'colour' in pack",
        "8: not a sha256 hex digest: 'not-a-hash'",
        "9: unknown key 'pdqq' in bank 'known'",
        "13: r1: 'severity' must be one of info | low | medium | high | critical, not 'urgent'",
        "15: r1: duplicate rule id (first defined on line 11)",
        "22: r3: undefined list '$nope'",
        "23: r3: unknown bank 'missing'",
        "26: r4: unknown key 'priority' in rule",
        "27: r4: unknown condition 'regexx'",
        "28: r5: a rule needs a 'title'",
        "29: r5: not a domain name: 'not a domain'",
        "30: a rule needs an 'id' of letters, digits and _.:-, not False"
        " (YAML reads off/no/yes as booleans: quote the id)",
    ]


def test_good_pack_loads_with_its_metadata() -> None:
    (pack,) = load_packs([FILES / "good.yaml"])
    assert (pack.id, pack.version, len(pack.rules)) == ("good", 7, 1)
    (rule,) = pack.rules
    assert (rule.id, rule.severity, rule.status, rule.pack, rule.version) == (
        "g1",
        Severity.HIGH,
        Status.LIVE,
        "good",
        7,
    )


def test_the_same_pack_twice_is_refused() -> None:
    with pytest.raises(PackError, match="pack id 'good' is loaded twice"):
        load_packs([FILES / "good.yaml", FILES / "good.yaml"])


def test_missing_file_is_a_pack_error() -> None:
    with pytest.raises(PackError, match="cannot read pack"):
        load_pack(FILES / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pack: [x", "p.yaml:1: invalid YAML"),
        ("- a\n- b\n", "p.yaml:1: a pack must be a YAML mapping"),
        ("pack: p\nversion: 0\nrules: []\n", "p.yaml:2: 'version' must be a whole number from 1"),
        (
            "pack: p\nversion: 9007199254740992\nrules: []\n",
            "p.yaml:2: 'version' must be a whole number from 1 to 9007199254740991",
        ),
        ("pack: p\nversion: 1\n", "p.yaml:1: 'rules' must be a non-empty list"),
        ('pack: "p\\n"\nversion: 1\nrules: []\n', "p.yaml:1: 'pack' must be an id"),
        (
            'pack: p\nversion: 1\nrules:\n  - id: "a\\n"\n'
            "    title: t\n    match: {keywords: [x]}\n",
            "p.yaml:4: a rule needs an 'id' of letters, digits and _.:-, not 'a\\n'",
        ),
        (
            "pack: p\nversion: 1\nrules:\n  - id: a\n    title: t\n    match: {keywords: ['!!']}\n",
            "p.yaml:6: a: keyword '!!' has no letters or digits to match",
        ),
        (
            "pack: p\nversion: 1\nrules:\n  - id: a\n    title: t\n",
            "p.yaml:4: a: a rule needs a 'match' condition",
        ),
        (
            "pack: p\nversion: 1\nrules:\n  - id: a\n    title: t\n    match: {any: []}\n",
            "p.yaml:6: a: 'any', 'all' and 'of' take a non-empty list of conditions",
        ),
        (
            "pack: p\nversion: 1\nrules:\n  - id: a\n    title: t\n"
            "    match: {keywords: [x], accounts: [y]}\n",
            "p.yaml:6: a: a condition is a mapping with exactly one key",
        ),
    ],
)
def test_single_problems(text: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(text)), problems(text)


def test_yaml_aliases_are_refused() -> None:
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\npack: p\n'
    assert problems(bomb) == [
        "p.yaml:2: invalid YAML: anchors and aliases are not allowed in rule packs"
    ]


def test_rule_language_problems_are_all_reported_with_locations() -> None:
    with pytest.raises(PackError) as caught:
        load_pack(FILES / "bad-rules.yaml")
    path = str(FILES / "bad-rules.yaml")
    assert [str(p).removeprefix(path + ":") for p in caught.value.problems] == [
        r"9: b1: regex /(sample)\s+\1/ needs a backtracking engine"
        " (Back-references are unsupported); only linear-time regexes run",
        r"14: b2: regex /sample(?=\s+brigade)/ needs a backtracking engine"
        " (Zero-width assertions are not supported); only linear-time regexes run",
        "15: b2: unknown field 'signature'"
        " (one of text, media.text, hashtags, links, author.handle, author.display_name)",
        "18: b3: 'match' can hold with no evidence (a bare 'not'?)",
        "23: b4: 'at_least' n must be from 1 to the number of conditions (2)",
        "26: b5: unknown key 'region' in scope",
        "29: b5: tests match[0] is not a valid post: data.text must be string",
        "30: b5: unknown key 'maybe' in tests",
    ]


@pytest.mark.parametrize(
    "pattern",
    [r"(a)\1", r"(?<=a)b", r"(?<!a)b", r"(?!a)b", r"(?>a)b", r"a++", "x*"],
)
def test_patterns_that_cannot_run_in_linear_time_are_refused(pattern: str) -> None:
    rule = f"  - id: r\n    title: t\n    match: {{regex: ['{pattern}']}}\n"
    text = "pack: p\nversion: 1\nrules:\n" + rule
    (problem,) = problems(text)
    assert problem.startswith(f"p.yaml:6: r: regex /{pattern}/ ")


CORRELATING = """pack: p
version: 1
watchlists:
  listed: [{id: "x:1", handle: listed}]
correlation:
  %s
rules:
  - id: a
    title: t
    match: {watchlist: listed}
"""


def test_a_pack_sets_thresholds_of_correlation_for_its_accounts() -> None:
    text = CORRELATING % "{campaign_authors: 2, campaign_window_s: 600, successor_window_s: 1.5e+5}"
    pack = parse_pack(text, "p.yaml")
    assert pack.correlation == {
        "campaign_authors": 2,
        "campaign_window_s": 600,
        "successor_window_s": 1.5e5,
    }
    assert [account.pack for account in pack.accounts] == ["p"]
    assert correlation_of(text, "p.yaml") == ("p", pack.correlation)
    plain = CORRELATING.replace("correlation:\n  %s\n", "")
    assert parse_pack(plain, "p.yaml").correlation == {}


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("{campaign_authors: 2, window: 60}", "p.yaml:6: unknown key 'window' in correlation"),
        ("{campaign_authors: -1}", "p.yaml:5: correlation: campaign_authors is a count"),
        ("{successor_reappearances: 2.5}", "p.yaml:5: correlation: successor_reappearances is"),
        ("{successor_with_lookalike: yes}", "p.yaml:5: correlation: successor_with_lookalike"),
        ("{campaign_window_s: 0}", "p.yaml:5: correlation: campaign_window_s is more than 0 s"),
        ("{campaign_window_s: .nan}", "p.yaml:5: correlation: campaign_window_s is more than"),
        ("{successor_window_s: .inf}", "p.yaml:5: correlation: successor_window_s is more than"),
        ("{campaign_window_s: 1.0e+300}", "p.yaml:5: correlation: campaign_window_s is more"),
        ("{successor_window_s: soon}", "p.yaml:5: correlation: successor_window_s is a number"),
        ("[campaign_authors]", "p.yaml:5: 'correlation' must be a mapping"),
    ],
)
def test_a_correlation_section_with_problems_is_refused(section: str, expected: str) -> None:
    text = CORRELATING % section
    assert any(p.startswith(expected) for p in problems(text)), problems(text)
    with pytest.raises(PackError) as caught:
        correlation_of(text, "p.yaml")
    assert any(str(p).startswith(expected) for p in caught.value.problems)


def test_a_term_longer_than_a_thousand_characters_is_refused_where_it_is_written() -> None:
    # the matching engine refuses patterns some ten times longer, with an error of its own
    long, longest = "ab " * 333 + "abc", "ab " * 333 + "ab"
    assert (len(long), len(longest)) == (1002, 1001)
    text = (
        f"pack: t\nversion: 1\nlists:\n  l: [ok, {long}]\nrules:\n"
        f"  - id: r1\n    title: T\n    match: {{keywords: [{longest}, $l]}}\n"
    )
    assert problems(text) == [
        "p.yaml:4: term 'ab ab ab ab ab ab ab ab ab ab ab ab ab a'... is longer than 1,000 "
        "characters",
        "p.yaml:8: r1: term 'ab ab ab ab ab ab ab ab ab ab ab ab ab a'... is longer than 1,000 "
        "characters",
    ]
    fits = text.replace(long, long[:1000]).replace(longest, longest[:1000])
    assert [rule.id for rule in parse_pack(fits, "p.yaml").rules] == ["r1"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pack: t\nversion: 1\nrules:\n  - id: r1\n    title: T\n    match: {keywords: [a]}\n"
            "rules:\n  - id: r2\n    title: T\n    match: {keywords: [b]}\n",
            "p.yaml:7: invalid YAML: duplicate key 'rules'",
        ),
        (
            "pack: t\nversion: 1\nrules:\n  - id: r1\n    title: T\n"
            "    match: {keywords: [a]}\n    match: {keywords: [b]}\n",
            "p.yaml:7: invalid YAML: duplicate key 'match'",
        ),
        (
            "pack: t\nversion: 1\nlists:\n  l: [a]\n  l: [b]\nrules: []\n",
            "p.yaml:5: invalid YAML: duplicate key 'l'",
        ),
    ],
)
def test_a_key_written_twice_is_refused_not_overwritten(text: str, expected: str) -> None:
    assert problems(text) == [expected]
