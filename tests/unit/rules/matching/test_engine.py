from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from postwatch.rules import Alert, Engine, alert_id
from tests.unit.rules.conftest import make_post

PACK = """
pack: t
version: 2
lists:
  orgs: ["example front", "sample brigade"]
watchlists:
  listed:
    - {id: "bluesky:did:plc:abc", handle: "ef.bsky.social"}
banks:
  known:
    sha256: ["B5B0799616DF52D475A3968DC7E54F1D0724C912244FFA6175BC786375DD7298"]
    md5: ["d35c785545392755e7e4164457657269"]
rules:
  - id: kw
    title: names
    severity: high
    tags: [a, b]
    match: {keywords: [$orgs, "join us"]}
  - id: both
    title: names and call
    severity: critical
    match:
      all:
        - keywords: [$orgs]
        - any:
            - keywords: ["join us"]
            - domains: ["example.org"]
  - id: acct
    title: account
    match: {accounts: ["mastodon:x.social:42"]}
  - id: wl
    title: watchlist
    match: {watchlist: listed}
  - id: hash
    title: hash
    match: {hashes: {bank: known}}
  - id: dom
    title: domain
    match: {domains: ["example.org"]}
  - id: gone
    title: disabled
    status: disabled
    match: {keywords: ["example front"]}
  - id: trial
    title: shadow
    status: shadow
    match: {keywords: ["front"]}
"""


@pytest.fixture
def engine(engine_for: Callable[[str], Engine]) -> Engine:
    return engine_for(PACK)


def rule_ids(engine: Engine, **fields: object) -> list[str]:
    return [m.rule.id for m in engine.evaluate(make_post(**fields))]


def test_keyword_is_whole_word_and_case_insensitive(engine: Engine) -> None:
    assert rule_ids(engine, text="We stand with the EXAMPLE Front!") == ["kw", "trial"]
    assert rule_ids(engine, text="an example frontier") == []
    assert rule_ids(engine, text="counterexample front lines") == ["trial"]
    assert rule_ids(engine, text="examplefronts") == []


def test_keyword_span_points_into_original_text(engine: Engine) -> None:
    text = "Ｗe back the Ｅxample   Ｆront, always"
    (match, _) = engine.evaluate(make_post(text=text))
    (evidence,) = match.evidence
    start, end = evidence.span or (0, 0)
    assert text[start:end] == "Ｅxample   Ｆront"
    assert evidence.value == "example front"
    assert evidence.matched == "Ｅxample   Ｆront"


def test_nfkc_and_casefold_apply(engine: Engine) -> None:
    # fullwidth letters are NFKC-folded; German sharp s case-folds to "ss"
    assert rule_ids(engine, text="ＳＡＭＰＬＥ ＢＲＩＧＡＤＥ") == ["kw"]


def test_all_needs_every_branch_and_collects_all_evidence(engine: Engine) -> None:
    assert rule_ids(engine, text="sample brigade") == ["kw"]
    matches = engine.evaluate(
        make_post(text="Join us, sample brigade", links=["https://example.org/x"])
    )
    assert [m.rule.id for m in matches] == ["kw", "both", "dom"]
    both = matches[1]
    assert [(e.type, e.value) for e in both.evidence] == [
        ("keyword", "sample brigade"),
        ("keyword", "join us"),
        ("domain", "example.org"),
    ]


def test_accounts_and_watchlists_match_exact_author_id(engine: Engine) -> None:
    assert rule_ids(engine, author={"id": "mastodon:x.social:42"}) == ["acct"]
    assert rule_ids(engine, author={"id": "mastodon:x.social:421"}) == []
    assert rule_ids(engine, author={"id": "bluesky:did:plc:abc"}) == ["wl"]


@pytest.mark.parametrize(
    ("link", "hit"),
    [
        ("https://example.org/page", True),
        ("https://www.example.org", True),
        ("http://a.b.EXAMPLE.org./x?y=1", True),
        ("https://user@example.org:8443/", True),
        ("https://notexample.org/", False),
        ("https://example.org.evil.test/", False),
        ("https://example.com/example.org", False),
        ("not a url", False),
        ("https://[::1/", False),
    ],
)
def test_domain_matches_host_and_subdomains_only(engine: Engine, link: str, hit: bool) -> None:
    assert rule_ids(engine, links=[link]) == (["dom"] if hit else [])


def test_hash_matches_any_case_and_names_the_bank(engine: Engine) -> None:
    sha = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
    (match,) = engine.evaluate(make_post(media=[{"kind": "image"}, {"sha256": sha.upper()}]))
    (evidence,) = match.evidence
    assert (evidence.type, evidence.field, evidence.bank, evidence.value) == (
        "sha256",
        "media[1]",
        "known",
        sha,
    )
    assert rule_ids(engine, media=[{"md5": "D35C785545392755E7E4164457657269"}]) == ["hash"]
    assert rule_ids(engine, media=[{"md5": "0" * 32, "sha256": "1" * 64}]) == []


def test_disabled_rules_never_match_and_shadow_alerts_are_marked(engine: Engine) -> None:
    assert "gone" not in [r.id for r in engine.rules]
    (alert,) = [Alert.of_match(m) for m in engine.evaluate(make_post(text="the front"))]
    assert alert.shadow is True
    assert alert.rule.id == "trial"


def test_alert_id_is_deterministic_per_rule_version_and_post(engine: Engine) -> None:
    post = make_post(id="test:99", text="example front")
    first = [Alert.of_match(m).alert_id for m in engine.evaluate(post)]
    again = [Alert.of_match(m).alert_id for m in engine.evaluate(post)]
    assert first == again
    assert first[0] == alert_id("kw", 2, "test:99")
    assert len(set(first)) == len(first)
    assert alert_id("kw", 3, "test:99") != first[0]
    assert alert_id("kw", 2, "test:98") != first[0]


def test_alert_carries_rule_metadata_and_bounded_excerpt(engine: Engine) -> None:
    text = "x " * 400 + "sample brigade" + " y" * 400
    (match, *_) = engine.evaluate(make_post(text=text, url="https://t.example/1"))
    alert = Alert.of_match(match)
    assert msgspec.to_builtins(alert.rule) == {
        "id": "kw",
        "version": 2,
        "pack": "t",
        "title": "names",
        "severity": "high",
        "tags": ("a", "b"),
    }
    assert len(alert.post.excerpt) <= 280
    assert "sample brigade" in alert.post.excerpt
    assert alert.post.url == "https://t.example/1"


def test_evidence_quotes_at_most_a_thousand_characters_and_spans_all(
    engine_for: Callable[[str], Engine],
) -> None:
    wide = engine_for(
        "pack: w\nversion: 1\nrules:\n  - id: rx\n    title: t\n    match: {regex: ['a.*z']}\n"
        "  - id: dom\n    title: t\n    match: {domains: [example.org]}\n"
    )
    link = "https://example.org/" + "p" * 5000
    text = "a" + "b" * 300_000 + "z"
    matches = {m.rule.id: m for m in wide.evaluate(make_post(text=text, links=[link]))}
    (regex,) = matches["rx"].evidence
    assert regex.span == (0, len(text))
    assert regex.matched == "a" + "b" * 998 + "…"
    (domain,) = matches["dom"].evidence
    assert domain.matched == link[:999] + "…"
    short = wide.evaluate(make_post(text="a quiz"))
    assert [e.matched for m in short for e in m.evidence] == ["a quiz"]


def test_no_rules_match_nothing(engine: Engine) -> None:
    assert engine.evaluate(make_post(text="")) == []
    assert engine.evaluate(make_post(text="nothing to see here")) == []


KEYWORDS_AND_ACCOUNTS = """
pack: k
version: 1
rules:
  - id: kw
    title: names
    match: {keywords: ["example front", "sample brigade", "soon"]}
  - id: acct
    title: account
    match: {accounts: ["mastodon:x.social:42"]}
"""
KEYWORDS_AND_BANKS = """
pack: kb
version: 1
banks:
  known:
    md5: ["d35c785545392755e7e4164457657269"]
rules:
  - id: kw
    title: names
    match: {keywords: ["example front", "sample brigade"]}
  - id: hash
    title: hash
    match: {hashes: {bank: known}}
  - id: both
    title: names and hash
    match: {all: [{keywords: ["sample brigade"]}, {hashes: {bank: known}}]}
"""
MEDIA = [
    [],
    [{"md5": "d35c785545392755e7e4164457657269"}],
    [{"md5": "0" * 32}],
    [
        {"text": "posters of the sample  brigade"},
        {"md5": "0" * 32},
        {"text": "soon: example front"},
    ],
]
MANY_TEXTS = [
    "We stand with the EXAMPLE Front!",
    "an example frontier",
    "",
    "s a m p l e brigade",
    "sooooo good, the Ｅxample   Ｆront",
    "noooo",
    "الجبهة",
    "ex@mple front ❤️",
    "nothing here at all",
    "\x00 example\x00front",
]


@pytest.mark.parametrize(
    "pack",
    [PACK, KEYWORDS_AND_ACCOUNTS, KEYWORDS_AND_BANKS],
    ids=["all kinds", "keywords", "keywords and banks"],
)
def test_evaluating_many_posts_gives_what_each_gives_alone(
    engine_for: Callable[[str], Engine], pack: str
) -> None:
    engine = engine_for(pack)
    posts = [
        make_post(id=f"test:{i}", text=text, author={"id": author}, media=MEDIA[i % 4])
        for i, (text, author) in enumerate(
            (text, author)
            for text in MANY_TEXTS
            for author in ("test:alice", "mastodon:x.social:42")
        )
    ]
    expected = [engine.evaluate(post) for post in posts]
    assert sum(map(len, expected)) >= 10  # the batch holds matches, not only quiet posts
    assert engine.evaluate_many(posts) == expected
    assert engine.evaluate_many(posts[:1]) == expected[:1]
    assert engine.evaluate_many([]) == []
