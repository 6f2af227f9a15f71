"""What `alerts tail` shows for an alert and for a summary."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from postwatch.alerts.tail import render_feed_entry
from postwatch.rules import Engine
from postwatch.rules.alerts import build_alert, build_summary
from tests.unit.alerts.conftest import make_post, only_match

T0 = datetime(2025, 7, 25, 10, tzinfo=UTC)


def shown(alert: dict[str, object]) -> str:
    console = Console(width=200, record=True, force_terminal=True)
    console.print(render_feed_entry(alert))
    return console.export_text()


def test_an_alert_shows_severity_rule_author_excerpt_and_url(engine: Engine) -> None:
    text = shown(build_alert(only_match(engine, make_post())))
    assert "HIGH" in text
    assert "ops-names" in text
    assert "@alice" in text
    assert "We stand with the Example Front today." in text
    assert "https://mastodon.example/@alice/1" in text
    assert "collapsed" not in text


def test_a_summary_says_how_many_repeats_it_collapsed(engine: Engine) -> None:
    first = build_alert(only_match(engine, make_post()))
    summary = build_summary(
        first,
        suppressed_count=12,
        suppressed_post_ids=["m:2", "m:3"],
        window_start=T0,
        window_end=T0,
    )
    assert "collapsed 12 repeat(s): m:2, m:3 and 10 more" in shown(summary)
