"""The rule language beyond plain keywords: not, at_least, exceptions, scope, status,
fields, regexes, and URLs written in text (defanged too) as links."""

from __future__ import annotations

from collections.abc import Callable

import jsonschema
import orjson
import pytest

from postwatch.rules import Engine
from postwatch.schemas import schema_text
from tests.unit.conftest import alert_doc
from tests.unit.rules.conftest import make_post

PACK = r"""
pack: lang
version: 4
lists:
  orgs: ["example front", "sample brigade"]
rules:
  - id: nested
    title: names with two of three calls, not on the news site
    match:
      all:
        - keywords: [$orgs]
        - at_least:
            n: 2
            of:
              - keywords: ["join us"]
              - keywords: ["today", "now"]
              - regex: ['sign\s*up']
        - not: {domains: ["news.example"]}
  - id: except
    title: names, but not in a fact check
    match: {keywords: [$orgs]}
    exceptions:
      - keywords: ["fact check", "debunked"]
      - all:
          - keywords: ["satire"]
          - domains: ["satire.example"]
  - id: scoped
    title: names on Mastodon, in English or Urdu
    scope: {sources: [mastodon], languages: [en, ur]}
    match: {keywords: [$orgs]}
  - id: shadowed
    title: a phrase under trial
    status: shadow
    match: {keywords: ["front line"]}
  - id: fields
    title: names in handles, display names and hashtags only
    match: {keywords: {terms: [$orgs], fields: [hashtags, author.handle, author.display_name]}}
  - id: codes
    title: unit codes
    match: {regex: ['brigade\s+\d{2,4}\b']}
  - id: links
    title: link to a listed site
    match: {domains: ["examplefront.example"]}
  - id: link-words
    title: a listed name inside a link
    match: {keywords: {terms: ["example front"], fields: [links]}}
"""


@pytest.fixture(scope="module")
def engine() -> Engine:
    from postwatch.rules import parse_pack  # noqa: PLC0415 - module-scoped fixture

    return Engine([parse_pack(PACK, "lang.yaml")])


def ids(engine: Engine, **fields: object) -> list[str]:
    return [m.rule.id for m in engine.evaluate(make_post(**fields))]


def test_nested_all_at_least_and_not(engine: Engine) -> None:
    assert "nested" in ids(engine, text="Join us now: the Sample Brigade")
    assert "nested" in ids(engine, text="the Sample Brigade: sign up today")
    assert "nested" not in ids(engine, text="Join us: the Sample Brigade")
    assert "nested" not in ids(
        engine, text="Join us now: the Sample Brigade", links=["https://news.example/a"]
    )
    assert "nested" not in ids(engine, text="Join us now: the Sample Brigade news(.)example/x")


def test_not_contributes_no_evidence_and_alerts_stay_valid(engine: Engine) -> None:
    (match,) = [
        m
        for m in engine.evaluate(make_post(text="Join us now, Sample Brigade"))
        if m.rule.id == "nested"
    ]
    assert [(e.type, e.value) for e in match.evidence] == [
        ("keyword", "sample brigade"),
        ("keyword", "join us"),
        ("keyword", "now"),
    ]
    jsonschema.validate(alert_doc(match), orjson.loads(schema_text("alert")))


def test_exceptions_silence_a_match(engine: Engine) -> None:
    assert "except" in ids(engine, text="the Example Front marches")
    assert "except" not in ids(engine, text="Fact check: the Example Front did not march")
    assert "except" in ids(engine, text="satire about the Example Front")
    assert "except" not in ids(
        engine, text="satire about the Example Front", links=["https://satire.example/1"]
    )


def test_scope_by_source_and_language(engine: Engine) -> None:
    assert "scoped" in ids(engine, text="Example Front", source="mastodon", lang="en-GB")
    assert "scoped" in ids(engine, text="Example Front", source="mastodon", lang="ur")
    assert "scoped" in ids(engine, text="Example Front", source="mastodon")  # no lang known
    assert "scoped" not in ids(engine, text="Example Front", source="bluesky", lang="en")
    assert "scoped" not in ids(engine, text="Example Front", source="mastodon", lang="fr")


def test_shadow_rules_alert_marked_shadow(engine: Engine) -> None:
    (match,) = engine.evaluate(make_post(text="news from the front line"))
    assert match.rule.id == "shadowed"
    assert alert_doc(match)["shadow"] is True


def test_fields_beyond_text(engine: Engine) -> None:
    assert "fields" not in ids(engine, text="Example Front")
    post = make_post(
        text="hello",
        hashtags=["weather", "ExampleFront"],
        author={
            "id": "test:x",
            "handle": "sample.brigade.social",
            "display_name": "Ｅxample Ｆront",
        },
    )
    (match,) = [m for m in engine.evaluate(post) if m.rule.id == "fields"]
    assert [(e.field, e.value, e.matched) for e in match.evidence] == [
        ("hashtags[1]", "example front", "ExampleFront"),
        ("author.handle", "sample brigade", "sample.brigade"),
        ("author.display_name", "example front", "Ｅxample Ｆront"),
    ]


def test_regex_evidence_spans_the_original_text(engine: Engine) -> None:
    text = "Ｗe are ＢＲＩＧＡＤＥ  313, join"
    (match,) = [m for m in engine.evaluate(make_post(text=text)) if m.rule.id == "codes"]
    (evidence,) = match.evidence
    assert (evidence.type, evidence.value) == ("regex", r"brigade\s+\d{2,4}\b")
    assert evidence.span is not None
    assert text[slice(*evidence.span)] == "ＢＲＩＧＡＤＥ  313"
    jsonschema.validate(alert_doc(match), orjson.loads(schema_text("alert")))


@pytest.mark.parametrize(
    "text",
    [
        "read https://www.examplefront.example/manifesto",
        "read hxxps://examplefront[.]example/manifesto",
        "read hxxp[:]//examplefront(.)example",
        "read www[.]examplefront[dot]example/x",
        "read examplefront{.}example",
        "read EXAMPLEFRONT.EXAMPLE/page",
    ],
)
def test_urls_in_text_count_as_links_defanged_or_not(engine: Engine, text: str) -> None:
    (match,) = [m for m in engine.evaluate(make_post(text=text)) if m.rule.id == "links"]
    (evidence,) = match.evidence
    assert (evidence.type, evidence.field, evidence.value) == (
        "domain",
        "text",
        "examplefront.example",
    )
    assert evidence.span is not None
    assert text[slice(*evidence.span)] == text.removeprefix("read ")


@pytest.mark.parametrize(
    "text",
    ["mail a@examplefront.example", "notexamplefront.example", "examplefront.examples.org"],
)
def test_lookalike_hosts_and_addresses_are_not_links(engine: Engine, text: str) -> None:
    assert "links" not in ids(engine, text=text)


def test_keywords_in_link_fields(engine: Engine) -> None:
    assert "link-words" in ids(engine, links=["https://x.example/join-the-example-front"])
    assert "link-words" not in ids(engine, links=["https://x.example/examplefrontier"])


def test_evaluation_is_deterministic(engine_for: Callable[[str], Engine]) -> None:
    post = make_post(
        text="Join us now: Example Front and the Sample Brigade, brigade 313 hxxp://examplefront[.]example",
        hashtags=["SampleBrigade"],
    )
    first = [(m.rule.id, m.evidence) for m in engine_for(PACK).evaluate(post)]
    again = [(m.rule.id, m.evidence) for m in engine_for(PACK).evaluate(post)]
    assert first == again
    assert [r for r, _ in first] == ["nested", "except", "fields", "codes", "links"]
