"""Look-alike accounts: an author whose folded handle or display name is within a few edits
of a watched account's, or contains it, raises one `lookalike_account` alert per (author,
watched account)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from postwatch.rules.alerts import Alert
from postwatch.rules.language.model import Evidence, Post, WatchedAccount
from postwatch.rules.matching.normalize import fold

__all__ = ["Lookalikes"]


class Lookalikes:
    """Watched accounts and the look-alikes found of them. Names are compared folded
    (homoglyphs, leetspeak) without separators; a name shorter than `min_length` is not
    watched, and `max_distance` is the most edits a look-alike is from it. `watched`
    (account id -> the account and its names) is for reading only."""

    def __init__(
        self, max_distance: int, min_length: int, accounts: Iterable[WatchedAccount] = ()
    ) -> None:
        self.max_distance = max_distance
        self.min_length = min_length
        self.watched: dict[str, tuple[WatchedAccount, list[str]]] = {}
        self._found: set[tuple[str, str]] = set()
        for account in accounts:
            self.watch(account)

    def watch(self, account: WatchedAccount) -> None:
        """Look-alikes of this account's handle and display name raise alerts from now on."""
        names = [_compact(n) for n in (account.handle, account.display_name) if n]
        names = [n for n in dict.fromkeys(names) if len(n) >= self.min_length]
        self.watched[account.id] = (account, names)

    def alerts(self, post: Post, now: datetime) -> list[Alert]:
        """An alert for each watched account the post's author looks like, the first time
        this author does; none for a watched author."""
        author = post.author
        if author.id in self.watched or not self.watched:
            return []
        names = {
            field: _compact(value)
            for field, value in (
                ("author.handle", author.handle),
                ("author.display_name", author.display_name),
            )
            if value
        }
        alerts: list[Alert] = []
        for watched_id, (account, watched_names) in self.watched.items():
            if (author.id, watched_id) in self._found:
                continue
            evidence = [
                Evidence(
                    "lookalike",
                    field,
                    watched,
                    matched=name,
                    distance=_edit_distance(name, watched, self.max_distance),
                    watched_account_id=watched_id,
                )
                for field, name in names.items()
                for watched in watched_names
                if watched in name
                or _edit_distance(name, watched, self.max_distance) <= self.max_distance
            ]
            if evidence:
                self._found.add((author.id, watched_id))
                label = account.handle or account.display_name or watched_id
                alerts.append(
                    Alert.detected(
                        "lookalike_account",
                        post,
                        now,
                        rule_id=f"lookalike/{watched_id}",
                        title=f"Account looks like watched account {label}",
                        evidence=evidence,
                    )
                )
        return alerts


def _compact(name: str) -> str:
    """A handle or display name folded (homoglyphs, leetspeak) with separators removed;
    a handle's server part (`@server`, `.bsky.social`) is left out."""
    name = name.lstrip("@").split("@", 1)[0].removesuffix(".bsky.social")
    return fold(name).text.replace(" ", "")


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or limit + 1 once it is certainly above limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
