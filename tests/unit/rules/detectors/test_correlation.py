"""Correlation over alerts: a campaign of accounts re-posting one original, and the successor
of a listed account, raised once and then updated; nothing for authors who happen to repeat
a text once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from postwatch.rules.alerts import Alert, decode
from postwatch.rules.detectors.correlation import Correlator
from postwatch.rules.language.model import CorrelationConfig
from tests.unit.rules.detectors.scenario import EDITED, PACK, STATEMENT, post, run_match

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ORIGINAL = "test:statement"


def listed_then(*posts: dict[str, Any]) -> list[dict[str, Any]]:
    """The listed account's statement (learned), then `posts`."""
    return [post("statement", "front", STATEMENT, handle="examplefront"), *posts]


def kinds(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["kind"] for a in alerts]


def network() -> list[dict[str, Any]]:
    """A successor (a look-alike handle, re-posting the statement) and three new accounts
    re-posting it within minutes, between posts of ordinary users."""
    return listed_then(
        post("u1", "ordinary1", "Lovely weather for a walk along the river today.", minutes=1),
        post("s1", "successor", EDITED, minutes=5, handle="examp1efront"),
        post("c1", "new1", STATEMENT, minutes=6),
        post("u2", "ordinary2", "Our school's science fair was amazing this year.", minutes=6),
        post("c2", "new2", EDITED, minutes=7),
        post("c3", "new3", STATEMENT, minutes=9),
    )


def test_a_network_raises_one_campaign_and_one_successor_updated_as_accounts_join(
    tmp_path: Path,
) -> None:
    alerts = run_match(tmp_path, network())
    campaign = [a for a in alerts if a["kind"] == "campaign"]
    successor = [a for a in alerts if a["kind"] == "successor"]
    assert len(campaign) == 1
    assert len(successor) == 1
    # the campaign: raised by the third account, naming the three; the fourth updates it
    (alert,) = campaign
    assert alert["rule"]["id"] == f"campaign/{ORIGINAL}"
    assert alert["post"]["id"] == "test:c2"
    assert [e["matched"] for e in alert["evidence"]] == [
        "test:successor",
        "test:new1",
        "test:new2",
    ]
    assert {e["original_post_id"] for e in alert["evidence"]} == {ORIGINAL}
    (update,) = [a for a in alerts if a.get("summary_of") == alert["alert_id"]]
    assert update["kind"] == "summary"
    assert update["evidence"][-1]["matched"] == "test:new3"
    assert (update["suppressed_count"], update["suppressed_post_ids"]) == (1, ["test:c3"])
    assert update["alert_id"] != alert["alert_id"]
    # the successor: a look-alike of the listed account that re-posted its statement
    (named,) = successor
    assert named["rule"]["id"] == "successor/test:front/test:successor"
    assert named["post"]["author"]["id"] == "test:successor"
    pieces = [e["value"] for e in named["evidence"]]
    by_id = {a["alert_id"]: a for a in alerts}
    assert sorted(by_id[p]["kind"] for p in pieces) == ["lookalike_account", "reappearance"]
    assert {e["original_author_id"] for e in named["evidence"]} == {"test:front"}


def test_the_same_posts_give_the_same_alerts_with_the_same_ids(tmp_path: Path) -> None:
    first = run_match(tmp_path, network())
    second = run_match(tmp_path, network())
    assert {"campaign", "successor"} <= set(kinds(first))
    assert [(a["kind"], a["alert_id"]) for a in first] == [
        (a["kind"], a["alert_id"]) for a in second
    ]


@pytest.mark.parametrize(
    "posts",
    [
        pytest.param(
            [
                post("r1", "reader1", STATEMENT, minutes=10),
                post("r2", "reader2", EDITED, minutes=20),
                post("r1b", "reader1", STATEMENT, minutes=30),  # the same account again
            ],
            id="two-accounts-one-of-them-twice",
        ),
        pytest.param(
            [
                post("a", "early", STATEMENT, minutes=1),
                post("b", "middle", STATEMENT, minutes=50),
                post("c", "late", STATEMENT, minutes=70),  # the first window closed at minute 61
            ],
            id="three-accounts-over-more-than-the-window",
        ),
    ],
)
def test_authors_who_repeat_a_text_now_and_then_raise_nothing(
    tmp_path: Path, posts: list[dict[str, Any]]
) -> None:
    alerts = run_match(tmp_path, listed_then(*posts))
    assert kinds(alerts).count("reappearance") == 3
    assert "campaign" not in kinds(alerts)
    assert "successor" not in kinds(alerts)


def observed(alerts: list[dict[str, Any]], config: CorrelationConfig) -> list[Alert]:
    """What a fresh correlator raises from the reappearance and look-alike alerts given."""
    correlator = Correlator(config)
    raised: list[Alert] = []
    for doc in alerts:
        if doc["kind"] in ("reappearance", "lookalike_account"):
            raised += correlator.observe(decode(orjson.dumps(doc)), NOW)
    return raised


def test_an_account_that_keeps_re_posting_another_is_its_successor(tmp_path: Path) -> None:
    posts = listed_then(
        *(post(f"k{n}", "keeper", STATEMENT, minutes=60 * 24 * n) for n in range(1, 5))
    )
    alerts = run_match(tmp_path, posts)
    assert kinds(alerts).count("reappearance") == 4
    successor = [a for a in alerts if a["kind"] == "successor"]
    assert len(successor) == 1
    assert successor[0]["post"]["id"] == "test:k3"  # the third re-post
    (update,) = [a for a in alerts if a["kind"] == "summary"]
    assert update["suppressed_post_ids"] == ["test:k4"]
    # a week is the window: re-posts eight days apart are no succession
    spread = run_match(
        tmp_path,
        listed_then(
            *(post(f"w{n}", "weekly", STATEMENT, minutes=60 * 24 * 8 * n) for n in range(1, 4))
        ),
    )
    assert kinds(spread).count("reappearance") == 3
    assert "successor" not in kinds(spread)
    # the thresholds are the configuration's
    assert observed(alerts, CorrelationConfig(successor_reappearances=5)) == []
    assert [a.kind for a in observed(alerts, CorrelationConfig(successor_reappearances=2))] == [
        "successor",
        "summary",
        "summary",
    ]


def test_every_alert_read_twice_adds_nothing(tmp_path: Path) -> None:
    alerts = run_match(tmp_path, network())
    inputs = [a for a in alerts if a["kind"] in ("reappearance", "lookalike_account")]
    once = observed(inputs, CorrelationConfig())
    twice = observed([a for a in inputs for _ in range(2)], CorrelationConfig())
    assert [a.alert_id for a in twice] == [a.alert_id for a in once]
    assert observed(inputs, CorrelationConfig(campaign_authors=0, successor_reappearances=0)) == []


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), 1e300, 366 * 86400 + 1])
@pytest.mark.parametrize("name", ["campaign_window_s", "successor_window_s"])
def test_windows_are_longer_than_nothing_and_a_year_at_most(name: str, seconds: float) -> None:
    with pytest.raises(ValueError, match=f"{name} is more than 0 s and at most 31622400 s"):
        CorrelationConfig().overridden({name: seconds})
    assert getattr(CorrelationConfig().overridden({name: 366 * 86400}), name) == 366 * 86400


def test_the_accounts_that_join_in_another_order_give_the_same_ids(tmp_path: Path) -> None:
    alerts = run_match(tmp_path, network())
    inputs = [a for a in alerts if a["kind"] in ("reappearance", "lookalike_account")]
    first, later = inputs[:2], inputs[2:]  # the successor's alerts, then the new accounts'
    in_order = {a.alert_id for a in observed(first + later, CorrelationConfig())}
    reordered = {a.alert_id for a in observed(first + later[::-1], CorrelationConfig())}
    assert len(in_order) == 3
    assert reordered == in_order


OTHER_PACK = """
pack: others
version: 1
watchlists:
  listed:
    - {id: "test:other", handle: "otherfront"}
rules:
  - id: other-listed-account
    title: Posts of other listed accounts
    severity: high
    learn: true
    match:
      watchlist: listed
"""


def with_correlation(section: str) -> str:
    """The mirror pack with a `correlation` section of its own."""
    return PACK.replace("rules:", f"correlation: {section}\nrules:", 1)


def two_originals_re_posted_twice() -> list[dict[str, Any]]:
    """The listed account's statement and another pack's listed account's, each re-posted
    by two new accounts (the first's seven minutes apart)."""
    other = "The other front meets at the old mill on Sunday; bring food for two days."
    return [
        *listed_then(
            post("a1", "new1", STATEMENT, minutes=1), post("a2", "new2", EDITED, minutes=8)
        ),
        post("other", "other", other, minutes=10, handle="otherfront"),
        post("b1", "new3", other, minutes=11),
        post("b2", "new4", other, minutes=12),
    ]


def test_a_pack_s_thresholds_and_windows_hold_for_its_accounts_and_content(
    tmp_path: Path,
) -> None:
    posts = two_originals_re_posted_twice()
    # the settings' three authors: two re-posts of each original are no campaign
    assert "campaign" not in kinds(run_match(tmp_path, posts, [PACK, OTHER_PACK]))
    # two authors for the mirror pack's content: a campaign of its original, not the other's
    alerts = run_match(tmp_path, posts, [with_correlation("{campaign_authors: 2}"), OTHER_PACK])
    (campaign,) = [a for a in alerts if a["kind"] == "campaign"]
    assert campaign["rule"]["id"] == f"campaign/{ORIGINAL}"
    assert {e["pack"] for e in campaign["evidence"]} == {"mirrors"}
    reappearances = [a for a in alerts if a["kind"] == "reappearance"]
    assert sorted(a["evidence"][0]["pack"] for a in reappearances) == [
        "mirrors",
        "mirrors",
        "others",
        "others",
    ]
    # and its window: seven minutes between the two re-posts are more than five
    short = with_correlation("{campaign_authors: 2, campaign_window_s: 300}")
    assert "campaign" not in kinds(run_match(tmp_path, posts, [short, OTHER_PACK]))


def test_a_pack_s_successor_threshold_holds_for_its_accounts(tmp_path: Path) -> None:
    posts = listed_then(post("k1", "keeper", STATEMENT, minutes=60))
    assert "successor" not in kinds(run_match(tmp_path, posts))
    alerts = run_match(tmp_path, posts, [with_correlation("{successor_reappearances: 1}")])
    (successor,) = [a for a in alerts if a["kind"] == "successor"]
    assert successor["rule"]["id"] == "successor/test:front/test:keeper"
    assert {e["pack"] for e in successor["evidence"]} == {"mirrors"}
    lookalike = listed_then(post("l1", "mimic", "hello there", handle="examp1efront"))
    found = run_match(tmp_path, lookalike, [with_correlation("{successor_with_lookalike: 0}")])
    assert [a["evidence"][0]["pack"] for a in found if a["kind"] == "lookalike_account"] == [
        "mirrors"
    ]
    assert "successor" in kinds(found)
    assert "successor" not in kinds(run_match(tmp_path, lookalike))
