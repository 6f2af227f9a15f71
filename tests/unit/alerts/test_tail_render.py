"""What `alerts tail` shows for an alert and for a summary."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from rich.console import Console

from postwatch.alerts.tail import render_feed_entry
from postwatch.rules import Engine
from postwatch.rules.alerts import Alert, AlertPost, encode
from postwatch.rules.language.model import Evidence
from tests.terminal import HOSTILE, HOSTILE_TEXT, acting
from tests.unit.conftest import alert_doc, make_post, only_match, summary_doc

T0 = datetime(2025, 7, 25, 10, tzinfo=UTC)


def shown(alert: dict[str, object]) -> str:
    console = Console(width=200, record=True, force_terminal=True)
    console.print(render_feed_entry(alert))
    return console.export_text()


def test_an_alert_shows_severity_rule_author_excerpt_and_url(engine: Engine) -> None:
    text = shown(alert_doc(only_match(engine, make_post())))
    assert "HIGH" in text
    assert "ops-names" in text
    assert "@alice" in text
    assert "We stand with the Example Front today." in text
    assert "https://mastodon.example/@alice/1" in text
    assert "collapsed" not in text


def test_a_summary_says_how_many_repeats_it_collapsed(engine: Engine) -> None:
    first = alert_doc(only_match(engine, make_post()))
    summary = summary_doc(
        first,
        suppressed_count=12,
        suppressed_post_ids=["m:2", "m:3"],
        window_start=T0,
        window_end=T0,
    )
    assert "collapsed 12 repeat(s): m:2, m:3 and 10 more" in shown(summary)


def test_an_update_of_a_campaign_says_which_posts_joined_and_names_the_accounts() -> None:
    accounts = [Evidence("alert", "author.id", f"{n:032x}", matched=f"m:user{n}") for n in range(4)]
    first = Alert.correlated(
        "campaign",
        AlertPost.of(make_post(), None),
        "m:1@2025-07-25T10:00:00.000Z",
        T0,
        rule_id="campaign/m:1",
        title="3 accounts re-posting post m:1 within 1:00:00",
        evidence=accounts[:3],
    )
    update = first.summary(
        suppressed_count=1,
        suppressed_post_ids=["m:9"],
        window_start=T0,
        window_end=T0,
        evidence=accounts,
    )
    text = shown(orjson.loads(encode(update)))
    assert "1 post(s) joined since: m:9" in text
    assert "collapsed" not in text
    assert all(f"{n:032x} (m:user{n})" in " ".join(text.split()) for n in range(4))


def raw(alert: dict[str, Any]) -> str:
    """What `alerts tail` writes to a colour terminal, escape sequences and all."""
    screen = io.StringIO()
    Console(file=screen, width=200, force_terminal=True, color_system="truecolor").print(
        render_feed_entry(alert)
    )
    return screen.getvalue()


def test_what_a_post_or_a_pack_says_cannot_drive_the_terminal(engine: Engine) -> None:
    first = alert_doc(only_match(engine, make_post()))
    alert = summary_doc(
        first,
        suppressed_count=3,
        suppressed_post_ids=[f"m:{HOSTILE['clipboard']}", HOSTILE["c1 csi"]],
        window_start=T0,
        window_end=T0,
    )
    alert["rule"].update(id=HOSTILE["title"], title=HOSTILE_TEXT, severity=HOSTILE["c1 osc"])
    alert["post"].update(
        source=HOSTILE["bidi"],
        excerpt=f"We stand {HOSTILE['concealed']} with the Example Front{HOSTILE['overwrite']}",
        url=f"https://mastodon.example/{HOSTILE['delete']}",
    )
    alert["post"]["author"]["handle"] = HOSTILE["clipboard"]
    alert["evidence"][0].update(value=HOSTILE["title"], matched=f"Front{HOSTILE['overwrite']}")
    output = raw(alert)
    assert acting(output) == []
    assert "\\u001b]52;c;cHduZWQ=\\u0007" in output  # shown, for the operator to see
    assert "\\u202etxt.exe" in output


@pytest.mark.parametrize(
    "change",
    [
        {"rule": "ops-names"},
        {"post": ["not", "an", "object"]},
        {"evidence": "text"},
        {"evidence": [1, {"field": "text", "matched": 7}]},
        {"post": {"author": "alice", "url": 5}},
        {"kind": "summary", "suppressed_count": "many", "suppressed_post_ids": "m:2"},
    ],
)
def test_an_alert_in_an_unexpected_shape_is_shown_as_far_as_it_goes(
    engine: Engine, change: dict[str, Any]
) -> None:
    alert = {**alert_doc(only_match(engine, make_post())), **change}
    assert "ops-names" in shown(alert) or "?" in shown(alert)


def test_a_rule_flood_alert_says_how_many_alerts_and_how_to_restore_the_rule(
    engine: Engine,
) -> None:
    tripped = Alert.of_match(only_match(engine, make_post()), T0)
    flood = Alert.flood(tripped, count=1001, limit=1000, window_s=60, episode="-1", now=T0)
    text = shown(orjson.loads(encode(flood)))
    assert "ops-names" in text
    assert "flood: 1001 alerts in a minute (limit 1000)" in text
    assert "`postwatch rules restore ops-names`" in text
