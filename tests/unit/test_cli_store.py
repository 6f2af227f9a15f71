"""An alert on one line (`alerts search`): every field in place, and what a terminal would
act on in a post's author or URL written as an escape."""

from __future__ import annotations

import click
import msgspec
import pytest

from postwatch.alerts.store import Stored
from postwatch.cli.store import since_option, stored_line
from tests.recorded_alerts import ALERTS, by_n


def test_an_alert_on_one_line() -> None:
    line = stored_line(Stored(ALERTS[1], "confirm", ()))
    assert line == (
        "2026-11-01T11:00:00.000Z  critical  pw-media  confirm         mastodon:alice (@alice)"
        f"  https://mastodon.example/@alice/2  {by_n(2)[0]}"
    )


def test_what_a_terminal_acts_on_is_escaped() -> None:
    alert = ALERTS[0]
    hostile = msgspec.structs.replace(
        alert.post,
        url="https://x.example/\x1b]0;owned\x07",
        author=msgspec.structs.replace(alert.post.author, handle="a\u202eb"),
    )
    line = stored_line(Stored(msgspec.structs.replace(alert, post=hostile), None, ()))
    assert "\x1b" not in line
    assert "\u202e" not in line
    assert "(@a\\u202eb)" in line
    assert "https://x.example/\\u001b]0;owned\\u0007" in line
    assert "undecided" in line


def test_since_is_read_or_refused() -> None:
    assert since_option(None) is None
    moment = since_option("2026-11-02T10:00:00Z")
    assert moment is not None
    assert moment.isoformat() == "2026-11-02T10:00:00+00:00"
    with pytest.raises(click.BadParameter, match="give a duration"):
        since_option("yesterday")
