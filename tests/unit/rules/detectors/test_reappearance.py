"""Reappearance: who posted the learned content again, and a post is never its own copy."""

from __future__ import annotations

from pathlib import Path

from postwatch.rules import Engine, parse_pack
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from tests.unit.rules.detectors.scenario import EDITED, PACK, STATEMENT, observe, post, run_match


def test_the_same_author_posting_again_is_a_repeat(tmp_path: Path) -> None:
    alerts = run_match(
        tmp_path,
        [
            post("1", "front", STATEMENT),
            post("2", "front", EDITED, minutes=1),
        ],
    )
    assert [a["kind"] for a in alerts] == ["rule", "rule", "reappearance"]
    assert alerts[2]["evidence"][0]["relation"] == "repeat"


def test_a_post_delivered_again_is_not_a_reappearance_of_itself() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig())
    statement = post("1", "front", STATEMENT)
    assert [a["kind"] for a in observe(tracker, engine, statement)] == ["rule"]
    assert [a["kind"] for a in observe(tracker, engine, statement)] == ["rule"]
    assert [a["kind"] for a in observe(tracker, engine, post("2", "x", STATEMENT))] == [
        "reappearance"
    ]


def _learned_tracker() -> tuple[Tracker, Engine]:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig())
    assert [a["kind"] for a in observe(tracker, engine, post("1", "front", STATEMENT))] == ["rule"]
    return tracker, engine


def test_a_third_quoted_with_commentary_reappears_by_containment() -> None:
    tracker, engine = _learned_tracker()
    quoted = (
        "Look what they are posting now: march on the capital next Saturday at noon. "
        "Bring flags. Disgusting."
    )
    (alert,) = observe(tracker, engine, post("2", "x", quoted))
    (evidence,) = alert["evidence"]
    assert alert["kind"] == "reappearance"
    assert evidence["similarity"] < MirrorConfig().text_threshold  # the whole texts differ
    assert evidence["containment"] >= MirrorConfig().containment_threshold


def test_each_half_of_a_statement_split_over_two_posts_reappears() -> None:
    tracker, engine = _learned_tracker()
    words = STATEMENT.split()
    half = len(words) // 2
    for number, part in enumerate((words[:half], words[half:]), start=2):
        alerts = observe(tracker, engine, post(str(number), "x", " ".join(part)))
        assert [a["kind"] for a in alerts] == ["reappearance"]
        assert alerts[0]["evidence"][0]["containment"] == 1.0


def test_a_post_sharing_a_few_common_word_pairs_does_not_reappear() -> None:
    tracker, engine = _learned_tracker()
    unrelated = (
        "Next Saturday at noon we bring the kids to the park, and your friends are welcome "
        "to join the picnic by the lake if the weather holds."
    )
    assert observe(tracker, engine, post("2", "x", unrelated)) == []


def test_roman_urdu_spellings_of_a_statement_reappear() -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    tracker = Tracker(MirrorConfig())
    original = (
        "Jaish-e-Mohammed ke mujahideen Lashkar-e-Taiba ke saath jihad karenge, Example Front"
    )
    respelled = (
        "Jaish-i-Muhammad ke mujahidin Lashkar Tayyiba ke sath jihad karengay, Example Front"
    )
    assert [a["kind"] for a in observe(tracker, engine, post("1", "front", original))] == ["rule"]
    assert [a["kind"] for a in observe(tracker, engine, post("2", "x", respelled))] == [
        "reappearance"
    ]
