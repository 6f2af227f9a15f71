"""Signs of succession: a mirror of a listed account that links to the hosts the account
linked to, or posts once the account has gone quiet, says so in its alert's evidence, and the
`successor` alert lists those signs; a mirror that does neither carries none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.unit.rules.detectors.scenario import EDITED, STATEMENT, post, run_match

SITE = "https://www.front-news.example/join"


def linking(doc: dict[str, Any], *links: str) -> dict[str, Any]:
    return {**doc, "links": list(links)}


def signs(alert: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["type"], e["value"])
        for e in alert["evidence"]
        if e["type"] in {"link_domain", "went_quiet"}
    ]


def test_links_to_the_accounts_hosts_and_its_quiet_spell_are_signs_of_succession(
    tmp_path: Path,
) -> None:
    listed = linking(post("statement", "front", STATEMENT, handle="examplefront"), SITE)
    soon = linking(post("m1", "mirror1", EDITED, minutes=30), "https://example.org/x")
    later = [
        linking(post(f"h{n}", "heir", text, minutes=2 * 24 * 60 + n), "http://front-news.example/")
        for n, text in enumerate((STATEMENT, EDITED, STATEMENT + " Again."))
    ]
    alerts = run_match(tmp_path, [listed, soon, *later])
    by_post = {a["post"]["id"]: a for a in alerts if a["kind"] == "reappearance"}
    # half an hour after the statement, linking elsewhere: no sign
    assert signs(by_post["test:m1"]) == []
    # two days after the account's last post, linking to its host: both signs
    assert signs(by_post["test:h0"]) == [
        ("link_domain", "front-news.example"),
        ("went_quiet", "2025-07-25T10:00:00.000Z"),
    ]
    (successor,) = [a for a in alerts if a["kind"] == "successor"]
    assert successor["rule"]["id"] == "successor/test:front/test:heir"
    assert signs(successor) == [
        ("link_domain", "front-news.example"),
        ("went_quiet", "2025-07-25T10:00:00.000Z"),
    ]
    assert all(e["original_author_id"] == "test:front" for e in successor["evidence"])
