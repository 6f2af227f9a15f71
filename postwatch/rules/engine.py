"""The matching engine: packs compiled once, `evaluate(post)` many times.

Compilation gathers every leaf condition of every rule into indexes keyed by what a post
can present (folded terms, author ids, link hosts, media hashes). Evaluating a post looks
each of its features up once, which gives the leaves that hold for it and so the only rules
that can match; just those rules' condition trees are then evaluated. The cost of a post
therefore grows with what it matches, not with the number of rules.

Results are deterministic: matches come in pack order, then rule order, and evidence in the
order of the rule's conditions and of the positions in the post.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from urllib.parse import urlsplit

from postwatch.rules.matchers.keywords import KeywordIndex
from postwatch.rules.model import (
    Accounts,
    AllOf,
    AnyOf,
    Condition,
    Domains,
    Evidence,
    Hashes,
    Keywords,
    Leaf,
    Match,
    Pack,
    Post,
    Rule,
    Status,
)
from postwatch.rules.normalize import fold, fold_term

__all__ = ["Engine"]

_HASH_FIELDS = ("sha256", "md5")


def _leaves(condition: Condition) -> list[Leaf]:
    if isinstance(condition, AnyOf | AllOf):
        return [leaf for child in condition.children for leaf in _leaves(child)]
    return [condition]


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


class Engine:
    """All rules of the given packs, compiled into one matcher."""

    def __init__(self, packs: Sequence[Pack]) -> None:
        self.packs = tuple(packs)
        self.rules: tuple[Rule, ...] = tuple(
            rule for pack in packs for rule in pack.rules if rule.status is not Status.DISABLED
        )
        leaf_ids: dict[Leaf, int] = {}
        self._leaf_rules: list[list[int]] = []
        for rule_index, rule in enumerate(self.rules):
            for leaf in _leaves(rule.match):
                leaf_id = leaf_ids.setdefault(leaf, len(leaf_ids))
                if leaf_id == len(self._leaf_rules):
                    self._leaf_rules.append([])
                if rule_index not in self._leaf_rules[leaf_id]:
                    self._leaf_rules[leaf_id].append(rule_index)
        self._leaf_ids = leaf_ids

        self._index_leaves()

    def _index_leaves(self) -> None:
        """Index every leaf by the post feature that makes it hold."""
        terms: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._accounts: dict[str, list[int]] = defaultdict(list)
        self._domains: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._hashes: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        banks = {(p.id, name): bank for p in self.packs for name, bank in p.banks.items()}
        for leaf, leaf_id in self._leaf_ids.items():
            match leaf:
                case Keywords(terms=written):
                    for term in written:
                        terms[fold_term(term)].append((leaf_id, term))
                case Accounts(ids=ids):
                    for account in ids:
                        self._accounts[account].append(leaf_id)
                case Domains(domains=domains):
                    for domain in domains:
                        self._domains[domain].append((leaf_id, domain))
                case Hashes(pack=pack_id, bank=bank_name):
                    bank = banks[(pack_id, bank_name)]
                    for algo in _HASH_FIELDS:
                        for value in getattr(bank, algo):
                            self._hashes[(algo, value)].append((leaf_id, bank_name))
        self._terms = dict(terms)
        self._keywords = KeywordIndex(self._terms)

    def evaluate(self, post: Post) -> list[Match]:
        """Every rule (live or shadow) that matches the post, with its evidence."""
        found = self._leaf_evidence(post)
        if not found:
            return []
        candidates = sorted({r for leaf_id in found for r in self._leaf_rules[leaf_id]})
        matches: list[Match] = []
        for rule_index in candidates:
            rule = self.rules[rule_index]
            evidence = self._holds(rule.match, found)
            if evidence is not None:
                matches.append(Match(rule, post, tuple(evidence)))
        return matches

    def _leaf_evidence(self, post: Post) -> dict[int, list[Evidence]]:
        found: dict[int, list[Evidence]] = defaultdict(list)
        if self._terms and post.text:
            self._keyword_evidence(post.text, found)
        for leaf_id in self._accounts.get(post.author.id, ()):
            found[leaf_id].append(Evidence("account", "author.id", post.author.id))
        if self._domains:
            for i, link in enumerate(post.links):
                for leaf_id, domain in self._domain_leaves(link):
                    found[leaf_id].append(Evidence("domain", f"links[{i}]", domain, None, link))
        if self._hashes:
            for i, media in enumerate(post.media):
                for algo in _HASH_FIELDS:
                    value = getattr(media, algo)
                    for leaf_id, bank in self._hashes.get((algo, (value or "").lower()), ()):
                        found[leaf_id].append(
                            Evidence(algo, f"media[{i}]", value.lower(), None, value, bank=bank)
                        )
        return found

    def _keyword_evidence(self, text: str, found: dict[int, list[Evidence]]) -> None:
        folded = fold(text)
        for term, start, end in self._keywords.find(folded.text):
            span = folded.to_original(start, end)
            matched = text[span[0] : span[1]]
            for leaf_id, written in self._terms[term]:
                found[leaf_id].append(Evidence("keyword", "text", written, span, matched))

    def _domain_leaves(self, link: str) -> list[tuple[int, str]]:
        """The domain leaves that hold for a link: its host and each parent domain of it."""
        host = _host(link)
        labels = host.lower().split(".") if host else []
        return [
            hit for k in range(len(labels)) for hit in self._domains.get(".".join(labels[k:]), ())
        ]

    def _holds(
        self, condition: Condition, found: dict[int, list[Evidence]]
    ) -> list[Evidence] | None:
        """The evidence that makes the condition hold, or None when it does not."""
        match condition:
            case AnyOf(children=children):
                parts = [self._holds(child, found) for child in children]
                held = [e for part in parts if part is not None for e in part]
                return held if any(part is not None for part in parts) else None
            case AllOf(children=children):
                held = []
                for child in children:
                    part = self._holds(child, found)
                    if part is None:
                        return None
                    held.extend(part)
                return held
            case _:
                return found.get(self._leaf_ids[condition])
