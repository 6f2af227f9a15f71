"""A fixed set of alerts and decisions whose answers are known, for the alert store's tests
and those of the commands built on it (`alerts search`, `rules stats`, `cases export`).

Eight alerts over three days (2026-11-01 to 2026-11-03), three authors, three rules and a
reappearance:

| n | rule         | author                | evidence                         | verdicts           |
|---|--------------|-----------------------|----------------------------------|--------------------|
| 1 | pw-names     | mastodon:alice        | keyword "example front"          | confirm            |
| 2 | pw-media     | mastodon:alice        | sha256 H1 (bank known-media)     | confirm            |
| 3 | pw-media     | mastodon:bob          | sha256 H1                        | false_positive     |
| 4 | pw-media     | bluesky:did:plc:carol | pdq P (bank known-media, post Q) | escalate, a note   |
| 5 | pw-domain    | mastodon:bob          | domain example.org (www link)    | confirm, then fp   |
| 6 | pw-names     | bluesky:did:plc:carol | keyword "sample brigade"         | none               |
| 7 | reappearance | mastodon:bob          | text/..., original mastodon:1    | none               |
| 8 | pw-names     | mastodon:alice        | keyword "example front"          | a note only        |

One more decision names an alert that is not among them (`ORPHAN`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postwatch.rules.alerts import Alert, AlertAuthor, AlertPost, AlertRule, alert_id, isoformat
from postwatch.rules.decisions import Decision
from postwatch.rules.language.model import Evidence, SeverityLabel

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
H1 = "a" * 64
P = "b" * 64
Q = "c" * 64
LEARNED = "text/" + "d" * 32

_RULES: dict[str, tuple[str, SeverityLabel, str]] = {
    "pw-names": ("Names of listed organisations", "high", "demo"),
    "pw-media": ("Known media", "critical", "demo"),
    "pw-domain": ("Links to the listed site", "low", "demo"),
    f"reappearance/{LEARNED}": (
        "Reappearance (mirror) of post mastodon:1",
        "high",
        "postwatch.mirror",
    ),
}


def make_alert(
    n: int,
    rule: str,
    author: str,
    evidence: list[Evidence],
    *,
    hours: float,
    kind: str = "rule",
    text: str = "",
) -> Alert:
    """Alert `n`: the post `<source>:n` of `author`, raised `hours` after START."""
    source, name = author.split(":", 1)[0], author.rsplit(":", 1)[-1]
    title, severity, pack = _RULES[rule]
    return Alert(
        alert_id=alert_id(rule, 1, f"{source}:{n}"),
        kind=kind,  # type: ignore[arg-type]  # one of ALERT_KINDS, checked by the struct
        detected_at=isoformat(START + timedelta(hours=hours)),
        rule=AlertRule(id=rule, version=1, pack=pack, title=title, severity=severity, tags=()),
        post=AlertPost(
            id=f"{source}:{n}",
            source=source,
            url=f"https://{source}.example/@{name}/{n}",
            created_at=isoformat(START + timedelta(hours=hours - 1)),
            author=AlertAuthor(id=author, handle=name),
            excerpt=text or f"post {n}",
        ),
        evidence=tuple(evidence),
        shadow=False,
    )


def _keyword(term: str, text: str) -> Evidence:
    start = text.casefold().index(term)
    return Evidence("keyword", "text", term, (start, start + len(term)))


ALERTS = [
    make_alert(
        1,
        "pw-names",
        "mastodon:alice",
        [_keyword("example front", "We stand with the Example Front")],
        hours=1,
        text="We stand with the Example Front",
    ),
    make_alert(
        2,
        "pw-media",
        "mastodon:alice",
        [Evidence("sha256", "media[0]", H1, matched=H1, bank="known-media")],
        hours=2,
    ),
    make_alert(
        3,
        "pw-media",
        "mastodon:bob",
        [Evidence("sha256", "media[0]", H1.upper(), matched=H1, bank="known-media")],
        hours=10,
    ),
    make_alert(
        4,
        "pw-media",
        "bluesky:did:plc:carol",
        [Evidence("pdq", "media[1]", P, matched=Q, bank="known-media", distance=12)],
        hours=20,
    ),
    make_alert(
        5,
        "pw-domain",
        "mastodon:bob",
        [Evidence("domain", "links[0]", "example.org", None, "https://www.example.org/a")],
        hours=26,
        text="see https://www.example.org/a",
    ),
    make_alert(
        6,
        "pw-names",
        "bluesky:did:plc:carol",
        [_keyword("sample brigade", "Join the Sample Brigade")],
        hours=30,
        text="Join the Sample Brigade",
    ),
    make_alert(
        7,
        f"reappearance/{LEARNED}",
        "mastodon:bob",
        [
            Evidence(
                "text",
                "text",
                LEARNED,
                similarity=0.8,
                original_post_id="mastodon:1",
                original_author_id="mastodon:alice",
                relation="mirror",
            )
        ],
        hours=40,
        kind="reappearance",
        text="we stand with the example front, again",
    ),
    make_alert(
        8,
        "pw-names",
        "mastodon:alice",
        [_keyword("example front", "Example Front forever")],
        hours=49,
        text="Example Front forever",
    ),
]
"""The eight alerts, in the order a worker raised them."""

_ORPHANED = make_alert(
    99, "pw-names", "mastodon:zed", [_keyword("example front", "example front")], hours=3
)
ORPHAN = _ORPHANED.alert_id
"""The id of the alert the last decision names, which is not among ALERTS."""


def _decision(n: int, verdict: str, user: str, hours: float, note: str = "") -> Decision:
    alert = ALERTS[n - 1] if n else _ORPHANED
    at = START + timedelta(hours=hours)
    return Decision.of(alert, verdict, user, note, at)  # type: ignore[arg-type]  # a Verdict


DECISIONS = [
    _decision(1, "confirm", "rita", 50, "listed organisation"),
    _decision(2, "confirm", "rita", 51),
    _decision(3, "false_positive", "sam", 52, "a stock photo"),
    _decision(4, "escalate", "sam", 53),
    _decision(4, "note", "rita", 54, "asked the platform"),
    _decision(5, "confirm", "rita", 55),
    _decision(5, "false_positive", "sam", 56, "a news site quoting it"),
    _decision(8, "note", "sam", 57, "look again tomorrow"),
    _decision(0, "confirm", "rita", 58),
]
"""The decisions, in topic order; the last one names ORPHAN."""

VERDICTS = {1: "confirm", 2: "confirm", 3: "false_positive", 4: "escalate", 5: "false_positive"}
"""The verdict of each decided alert by its n; the others are undecided."""


def by_n(*numbers: int) -> list[str]:
    """The alert ids of these alerts."""
    return [ALERTS[n - 1].alert_id for n in numbers]
