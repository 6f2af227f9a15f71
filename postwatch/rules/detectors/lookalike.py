"""Look-alike accounts: an author whose folded handle or display name is within a few edits
of a watched account's, or contains it, raises one `lookalike_account` alert per (author,
watched account).

How many edits a look-alike may be from a watched name grows with the name's length
(`allowed_edits`: none under six letters, one under twelve, then two; at most the configured
distance), and the edits are weighed by how alike they look (`distance`): a letter for one
drawn alike (`i` for `l`, `u` for `v`, `rn` is folded elsewhere) or a letter doubled or not
costs half an edit, any other change a whole one. `news_teller` and `news_caller` (two whole
edits in ten letters) are two accounts; `newsteIler` (capital i for l) is a look-alike.
`python benchmarks/lookalike_bench.py` measures how many innocent handles each watched name
flags."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from postwatch.rules.alerts import Alert
from postwatch.rules.language.model import Evidence, Post, WatchedAccount, matched_at
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
        self._found: dict[str, set[str]] = {}  # author id -> watched accounts alerted
        self._cleared: set[tuple[str, str]] = set()
        for account in accounts:
            self.watch(account)

    def watch(self, account: WatchedAccount) -> None:
        """Look-alikes of this account's handle and display name raise alerts from now on."""
        names = [_compact(n) for n in (account.handle, account.display_name) if n]
        names = [n for n in dict.fromkeys(names) if len(n) >= self.min_length]
        self.watched[account.id] = (account, names)

    def alerted(self, author_id: str) -> tuple[str, ...]:
        """The watched accounts this author was alerted as a look-alike of."""
        return tuple(sorted(self._found.get(author_id, ())))

    def put_alerted(self, author_id: str, watched_ids: Iterable[str]) -> None:
        """Put back what `alerted` gave (the author is not alerted for them again)."""
        if found := set(watched_ids):
            self._found[author_id] = found
        else:
            self._found.pop(author_id, None)

    def clear(self, author_id: str, watched_id: str) -> None:
        """A reviewer found this author no look-alike of that watched account: never again."""
        self._cleared.add((author_id, watched_id))

    def restore(self, author_id: str, watched_id: str) -> None:
        """Take a `clear` back (the reviewer's verdict changed)."""
        self._cleared.discard((author_id, watched_id))

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
            if (
                watched_id in self._found.get(author.id, ())
                or (author.id, watched_id) in self._cleared
            ):
                continue
            evidence = []
            for field, name in names.items():
                for watched in watched_names:
                    edits = distance(name, watched, self.max_distance)
                    if watched in name or edits <= allowed_edits(watched, self.max_distance):
                        evidence.append(
                            Evidence(
                                "lookalike",
                                field,
                                watched,
                                matched=matched_at(name, (0, len(name))),
                                distance=math.ceil(edits),
                                watched_account_id=watched_id,
                                pack=account.pack,
                            )
                        )
            if evidence:
                self._found.setdefault(author.id, set()).add(watched_id)
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


_ALIKE = frozenset(
    frozenset(pair) for pair in ("il", "lj", "ij", "uv", "ce", "nh", "mn", "gq", "oa", "bd")
)
"""Pairs of letters drawn alike once folded (homoglyphs and leetspeak are folded already)."""


def allowed_edits(watched: str, most: int) -> int:
    """How many edits a look-alike may be from a watched name of this length."""
    return min(most, len(watched) // 6)


def distance(a: str, b: str, limit: int) -> float:
    """The edit distance weighed by look (see the module doc), or limit + 1 once it is
    certainly above limit."""
    if abs(len(a) - len(b)) > 2 * limit:
        return limit + 1

    def change(x: str, y: str) -> float:
        return 0.0 if x == y else 0.5 if frozenset((x, y)) in _ALIKE else 1.0

    def indel(word: str, k: int) -> float:
        """Inserting or deleting word[k-1]: half an edit where it doubles its neighbour."""
        doubled = (k > 1 and word[k - 2] == word[k - 1]) or (
            k < len(word) and word[k] == word[k - 1]
        )
        return 0.5 if doubled else 1.0

    previous = [0.0]
    for j in range(1, len(b) + 1):
        previous.append(previous[-1] + indel(b, j))
    for i in range(1, len(a) + 1):
        current = [previous[0] + indel(a, i)]
        for j in range(1, len(b) + 1):
            current.append(
                min(
                    previous[j] + indel(a, i),
                    current[j - 1] + indel(b, j),
                    previous[j - 1] + change(a[i - 1], b[j - 1]),
                )
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
