"""Signs that an author succeeds an account whose posts were learned, beside re-posting its
content or imitating its name: the author links to hosts the account linked to
(`link_domain`), and it posts when the account has gone quiet (`went_quiet`: the account's
latest learned post is at least `quiet_after_s` and at most `quiet_within_s` older than the
author's post).

`Footprints` reads them from the learned entries (their `domains` and `posted_at`), which
every worker has, and adds them as evidence to the reappearance and look-alike alerts that
name an account; correlation (`correlation.Successions`) lists them in the `successor` alert.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import msgspec

from postwatch.rules.alerts import EVIDENCE_MAX, MIRROR_PACK, Alert, isoformat
from postwatch.rules.detectors.learning import Learned
from postwatch.rules.language.model import Evidence, Post
from postwatch.rules.matching.matchers.urls import host

__all__ = ["SIGNS", "Footprints", "named_account", "pack_of"]

SIGNS = frozenset({"link_domain", "went_quiet"})
"""The evidence types of the signs of succession."""


def named_account(alert: Alert) -> str | None:
    """The account an alert says its author may succeed: the original author of a mirror
    reappearance, the watched account of a look-alike; None for any other alert."""
    evidence = alert.evidence[0]
    if alert.kind == "reappearance" and evidence.relation == "mirror":
        return evidence.original_author_id
    if alert.kind == "lookalike_account":
        return evidence.watched_account_id
    return None


def pack_of(alert: Alert) -> str | None:
    """The pack of what an alert is about: its rule's, or for a detector's alert the pack
    its evidence names (that taught the original, lists the watched account, or holds the
    correlation); None where it names none."""
    if alert.rule.pack != MIRROR_PACK:
        return alert.rule.pack
    return alert.evidence[0].pack if alert.evidence else None


class Footprints:
    """The hosts each learned account linked to, and when its latest learned post was."""

    def __init__(self, quiet_after_s: float, quiet_within_s: float) -> None:
        self.quiet_after = timedelta(seconds=quiet_after_s)
        self.quiet_within = timedelta(seconds=quiet_within_s)
        self._hosts: defaultdict[str, set[str]] = defaultdict(set)
        self._latest: dict[str, datetime] = {}

    def note(self, entry: Learned) -> None:
        """Take in what a learned entry tells of its author."""
        self._hosts[entry.author_id].update(entry.domains)
        posted = entry.posted_at or entry.learned_at
        if posted > self._latest.get(entry.author_id, posted - timedelta(seconds=1)):
            self._latest[entry.author_id] = posted

    def signs(self, account_id: str, post: Post) -> list[Evidence]:
        """The signs that the post's author succeeds this account."""
        found = []
        hosts = self._hosts.get(account_id, set())
        for i, link in enumerate(post.links):
            name = host(link.lower())
            name = name.removeprefix("www.") if name else None
            if name and name in hosts:
                found.append(
                    Evidence(
                        "link_domain",
                        f"links[{i}]",
                        name,
                        matched=link,
                        original_author_id=account_id,
                    )
                )
        latest = self._latest.get(account_id)
        if latest is not None and self.quiet_after <= post.created - latest <= self.quiet_within:
            found.append(
                Evidence(
                    "went_quiet",
                    "created_at",
                    isoformat(latest),
                    matched=post.created_at,
                    original_author_id=account_id,
                )
            )
        return found

    def with_signs(self, alert: Alert, post: Post) -> Alert:
        """The alert with the signs of succession of the account it names added to its
        evidence (itself when there are none, or it names none)."""
        account = named_account(alert)
        if account is None or account == post.author.id:
            return alert
        found = self.signs(account, post)
        if not found or len(alert.evidence) + len(found) > EVIDENCE_MAX:
            return alert
        return msgspec.structs.replace(alert, evidence=(*alert.evidence, *found))
