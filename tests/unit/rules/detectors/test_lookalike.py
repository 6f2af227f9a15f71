"""Look-alike accounts: names of watched accounts written with homoglyphs, leetspeak or
additions, once per author and watched account."""

from __future__ import annotations

from postwatch.rules import Engine, parse_pack
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.rules.language.model import WatchedAccount
from tests.unit.rules.detectors.scenario import PACK, observe, post


def test_lookalikes_alert_once_per_author_and_watched_account() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    accounts = [account for pack in engine.packs for account in pack.accounts]
    assert accounts == [WatchedAccount("test:front", "examplefront", "Example Front")]
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
