"""Look-alike accounts: names of watched accounts written with homoglyphs, leetspeak or
additions, once per author and watched account."""

from __future__ import annotations

import pytest

from postwatch.rules import Engine, parse_pack
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.rules.language.model import WatchedAccount
from tests.unit.rules.detectors.scenario import PACK, observe, post


def test_lookalikes_alert_once_per_author_and_watched_account() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    accounts = [account for pack in engine.packs for account in pack.accounts]
    assert accounts == [WatchedAccount("test:front", "examplefront", "Example Front", "mirrors")]
    tracker = Tracker(MirrorConfig(), accounts)
    hello = "hello there"
    found = [
        [a["kind"] for a in observe(tracker, engine, doc)]
        for doc in (
            post("1", "a", hello, handle="example_front_official"),
            post("2", "a", hello, handle="example_front_official"),
            post("3", "b", hello, handle="someone", name="Ex4mple Fr0nt"),
            post("4", "c", hello, handle="exampleforest"),
            post("5", "d", hello, handle="gardening_club", name="Front Garden"),
            post("6", "front", hello, handle="examplefront"),
        )
    ]
    assert found == [["lookalike_account"], [], ["lookalike_account"], [], [], ["rule"]]


def _flags(watched: str, handle: str) -> bool:
    engine = Engine([])
    tracker = Tracker(MirrorConfig(), [WatchedAccount("test:watched", watched, None)])
    return bool(observe(tracker, engine, post("1", "someone", "hello there", handle=handle)))


@pytest.mark.parametrize(
    ("watched", "handle", "flagged"),
    [
        ("news_teller", "news_caller", False),  # two whole edits in ten letters: two accounts
        ("news_teller", "newsteIler", True),  # capital i for l: drawn alike
        ("news_teller", "news_tellerr", True),  # a letter doubled
        ("news_teller", "news_teler", True),
        ("news_teller", "new_sellers", False),
        ("radio", "radi0", True),  # leetspeak folds
        ("radio", "radix", False),  # a short name allows no edit
        ("examplefrontofficial", "examplefrontoficcial", True),  # twenty letters: two edits
    ],
)
def test_allowed_edits_grow_with_the_name_and_weigh_what_looks_alike(
    watched: str, handle: str, flagged: bool
) -> None:
    assert _flags(watched, handle) is flagged


def test_a_long_name_holding_a_watched_one_is_quoted_in_part() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig(), [a for pack in engine.packs for a in pack.accounts])
    name = "Example Front " + "abc" * 50_000
    (alert,) = observe(tracker, engine, post("1", "a", "hello there", handle="a", name=name))
    (evidence,) = alert["evidence"]
    assert evidence["matched"] == ("examplefront" + "abc" * 400)[:999] + "…"  # as folded
