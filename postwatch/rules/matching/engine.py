"""The matching engine: packs compiled once, `evaluate(post)` many times.

Compilation gathers every leaf condition of every rule into indexes keyed by what a post
can present: all keyword terms and regexes of all rules go into one `TextMatcher`, author
ids and link hosts into dictionaries; media hashes are looked up in each pack's banks
(exact sets and a PDQ index, with the pack's negative banks applied: see `banks`).
Evaluating a post looks each of its features up once, which gives the leaves that hold for
it and so the only rules that can match; just those rules' condition trees are then
evaluated. The cost of a post therefore
grows with what it matches, not with the number of rules.

At most `MAX_REGEXES` regexes are compiled, for all the packs together: more is a
`PackError`.

Results are deterministic: matches come in pack order, then rule order, and evidence in the
order of the rule's conditions and of the positions in the post.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from itertools import product

from postwatch.rules.language.errors import PackError, PackProblem
from postwatch.rules.language.model import (
    DEFAULT_FIELDS,
    FIELDS,
    Accounts,
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    Domains,
    Evidence,
    Hashes,
    Keywords,
    Leaf,
    Match,
    Media,
    Not,
    Pack,
    Post,
    Regex,
    Rule,
    Status,
    matched_at,
)
from postwatch.rules.matching.banks import BankHit, BankSet
from postwatch.rules.matching.cache import CompileCache
from postwatch.rules.matching.matchers.text import MAX_REGEXES, Hit, TextMatcher
from postwatch.rules.matching.matchers.urls import host, urls_in_text

__all__ = ["Engine"]

_MediaHits = list[tuple[str, str, BankHit]]
"""A post's bank hits: (field, pack id, hit), by media item (a video's keyframes after it:
`media[0].frames[3]`), in pack order."""


def _leaves(condition: Condition) -> list[Leaf]:
    match condition:
        case AnyOf(children=children) | AllOf(children=children) | AtLeast(children=children):
            return [leaf for child in children for leaf in _leaves(child)]
        case Not(child=child):
            return _leaves(child)
        case _:
            return [condition]


def _count_regexes(rules: Sequence[Rule]) -> None:
    """Raises `PackError`, naming the pack that goes over, when the rules hold more than
    `MAX_REGEXES` regexes together."""
    patterns: set[str] = set()
    over: Rule | None = None
    for rule in rules:
        conditions = [rule.match] if rule.exceptions is None else [rule.match, rule.exceptions]
        for condition in conditions:
            patterns.update(
                p for leaf in _leaves(condition) if isinstance(leaf, Regex) for p in leaf.patterns
            )
        if over is None and len(patterns) > MAX_REGEXES:
            over = rule
    if over is not None:
        message = f"the packs hold {len(patterns):,} regexes together, more than {MAX_REGEXES:,}"
        raise PackError([PackProblem(over.source_file, 0, message)])


_DEFAULT_FIELDS = list(DEFAULT_FIELDS)


def _field_values(post: Post, field: str) -> list[tuple[str, str]]:
    """(evidence field name, value) of each value of a post field; links include the URLs
    written in the text (named `text`, their spans are found again by the matchers)."""
    match field:
        case "text":
            return [("text", post.text)] if post.text else []
        case "media.text":
            return [(f"media[{i}].text", m.text) for i, m in enumerate(post.media) if m.text]
        case "hashtags":
            return [(f"hashtags[{i}]", tag) for i, tag in enumerate(post.hashtags)]
        case "links":
            return [(f"links[{i}]", link) for i, link in enumerate(post.links)]
        case "author.handle":
            return [("author.handle", post.author.handle)] if post.author.handle else []
        case _:
            name = post.author.display_name
            return [("author.display_name", name)] if name else []


class Engine:
    """All rules of the given packs, compiled into one matcher (loaded from `cache` where
    the same terms and regexes were compiled before); raises `PackError` when they hold
    more than `MAX_REGEXES` regexes."""

    def __init__(self, packs: Sequence[Pack], *, cache: CompileCache | None = None) -> None:
        self.packs = tuple(packs)
        self.rules: tuple[Rule, ...] = tuple(
            rule for pack in packs for rule in pack.rules if rule.status is not Status.DISABLED
        )
        _count_regexes(self.rules)
        leaf_ids: dict[Leaf, int] = {}
        self._leaf_rules: list[list[int]] = []
        for rule_index, rule in enumerate(self.rules):
            exceptions = _leaves(rule.exceptions) if rule.exceptions is not None else []
            for leaf in _leaves(rule.match):
                leaf_id = leaf_ids.setdefault(leaf, len(leaf_ids))
                while leaf_id >= len(self._leaf_rules):
                    self._leaf_rules.append([])
                if rule_index not in self._leaf_rules[leaf_id]:
                    self._leaf_rules[leaf_id].append(rule_index)
            for leaf in exceptions:
                leaf_ids.setdefault(leaf, len(leaf_ids))
        self._leaf_ids = leaf_ids
        self._index_leaves(cache)

    def watch_as(self, author_id: str, account_id: str) -> None:
        """Account and watchlist conditions that name `account_id` hold for `author_id`
        too, from now on (a reviewer confirmed the author as that account's successor)."""
        added = [
            leaf
            for leaf in self._accounts.get(account_id, ())
            if leaf not in self._accounts.get(author_id, ())
        ]
        if added:
            self._accounts[author_id].extend(added)
            self._successors.setdefault(author_id, {})[account_id] = added

    def unwatch_as(self, author_id: str, account_id: str) -> None:
        """Take a `watch_as` back."""
        added = self._successors.get(author_id, {}).pop(account_id, [])
        leaves = self._accounts.get(author_id, [])
        for leaf in added:
            leaves.remove(leaf)
        if author_id in self._accounts and not leaves:
            del self._accounts[author_id]

    def _index_leaves(self, cache: CompileCache | None) -> None:
        """Index every leaf by the post feature that makes it hold."""
        # (field, term or pattern as written) -> leaves
        self._terms: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._patterns: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._accounts: dict[str, list[int]] = defaultdict(list)
        self._successors: dict[str, dict[str, list[int]]] = {}  # author -> account -> leaves
        self._domains: dict[str, list[tuple[int, str]]] = defaultdict(list)
        # (pack id, bank name) -> the leaves that look in that bank
        self._bank_leaves: dict[tuple[str, str], list[int]] = defaultdict(list)
        for leaf, leaf_id in self._leaf_ids.items():
            match leaf:
                case Keywords(terms=values, fields=fields) | Regex(patterns=values, fields=fields):
                    index = self._terms if isinstance(leaf, Keywords) else self._patterns
                    for field, value in product(fields, values):
                        index[(field, value)].append(leaf_id)
                case Accounts(ids=ids):
                    for account in ids:
                        self._accounts[account].append(leaf_id)
                case Domains(domains=domains):
                    for domain in domains:
                        self._domains[domain].append((leaf_id, domain))
                case Hashes(pack=pack_id, bank=bank_name):
                    self._bank_leaves[(pack_id, bank_name)].append(leaf_id)
        # per pack, the banks its rules name and its negative banks, which apply to all
        self._banks = {
            pack.id: BankSet(
                bank
                for name, bank in pack.banks.items()
                if (pack.id, name) in self._bank_leaves or bank.negative
            )
            for pack in self.packs
            if any(pack_id == pack.id for pack_id, _ in self._bank_leaves)
        }
        used = {f for f, _ in self._terms} | {f for f, _ in self._patterns}
        self._text_fields = [f for f in FIELDS if f in used]  # evidence in field order
        # what evaluate_many can prefilter for many posts at once
        self._batchable = self._text_fields in ([], ["text"], _DEFAULT_FIELDS) and not (
            self._patterns or self._domains
        )
        self._matcher = TextMatcher(
            dict.fromkeys(t for _, t in self._terms),
            dict.fromkeys(p for _, p in self._patterns),
            cache=cache,
        )

    def evaluate(self, post: Post) -> list[Match]:
        """Every rule (live or shadow) that matches the post, with its evidence."""
        return self._evaluate(post, None, None)

    def _evaluate(
        self, post: Post, keywords: list[Hit] | None, hashes: _MediaHits | None
    ) -> list[Match]:
        """`evaluate`, with the keyword hits in the post's text and the bank hits of its
        media when they are known."""
        found = self._leaf_evidence(post, keywords, hashes)
        if not found:
            return []
        candidates = sorted({r for leaf_id in found for r in self._leaf_rules[leaf_id]})
        matches: list[Match] = []
        for rule_index in candidates:
            rule = self.rules[rule_index]
            if not rule.scope.covers(post):
                continue
            evidence = self._holds(rule.match, found)
            if evidence is None or (
                rule.exceptions is not None and self._holds(rule.exceptions, found) is not None
            ):
                continue
            matches.append(Match(rule, post, tuple(evidence)))
        return matches

    def evaluate_many(self, posts: Sequence[Post]) -> list[list[Match]]:
        """`[self.evaluate(post) for post in posts]`, in less time when the packs look at no
        more than keywords in the text, author ids and media hashes: the keywords of all the
        posts' texts are sought together (one prefilter scan names the few texts that may
        hold a term), the media of all of them looked up in each pack's banks together, and
        only the posts with a keyword hit, of listed authors and with media are evaluated
        further."""
        if not self._batchable:
            return [self.evaluate(post) for post in posts]
        texts = [post.text for post in posts]
        # the post of each text in images, and its place among the post's values
        owners: list[tuple[int, int]] = []
        if "media.text" in self._text_fields:
            for i, post in enumerate(posts):
                if post.media:
                    kinds, _, values = self._text_values(post)
                    for at, (kind, value) in enumerate(zip(kinds, values, strict=True)):
                        if kind == "media.text":
                            texts.append(value)
                            owners.append((i, at))
        keywords: dict[int, list[Hit]] = defaultdict(list)
        n = len(posts)
        for hit in self._matcher.keywords(texts):
            i, at = (hit.index, 0) if hit.index < n else owners[hit.index - n]
            keywords[i].append(replace(hit, index=at))
        further = set(keywords)
        if self._accounts:
            further.update(i for i, post in enumerate(posts) if post.author.id in self._accounts)
        hashes: dict[int, _MediaHits] = {}
        if self._banks:
            with_media = [i for i, post in enumerate(posts) if post.media]
            hashes = dict(
                zip(with_media, self._bank_hits([posts[i] for i in with_media]), strict=True)
            )
            further.update(with_media)
        found: list[list[Match]] = [[] for _ in posts]
        for i in further:
            found[i] = self._evaluate(posts[i], keywords.get(i, []), hashes.get(i, []))
        return found

    def _leaf_evidence(
        self, post: Post, keywords: list[Hit] | None, hashes: _MediaHits | None
    ) -> dict[int, list[Evidence]]:
        found: dict[int, list[Evidence]] = defaultdict(list)
        if self._text_fields:
            self._text_evidence(post, found, keywords)
        for leaf_id in self._accounts.get(post.author.id, ()):
            found[leaf_id].append(Evidence("account", "author.id", post.author.id))
        if self._domains:
            self._domain_evidence(post, found)
        if self._banks:
            self._bank_evidence(found, hashes if hashes is not None else self._bank_hits([post])[0])
        return found

    def _bank_hits(self, posts: Sequence[Post]) -> list[_MediaHits]:
        """For each post, the (field, pack id, hit) of each pack's banks for its media and
        its videos' keyframes: every pack's banks are searched once for those of all the
        posts."""
        owners: list[tuple[int, str]] = []
        media: list[Media] = []
        for p, post in enumerate(posts):
            for i, item in enumerate(post.media):
                owners.append((p, f"media[{i}]"))
                media.append(item)
                for suffix, frame in item.as_frames():
                    owners.append((p, f"media[{i}]{suffix}"))
                    media.append(frame)
        hits: list[_MediaHits] = [[] for _ in posts]
        for pack_id, banks in self._banks.items():
            for (p, field), found in zip(owners, banks.lookup_many(media), strict=True):
                hits[p].extend((field, pack_id, hit) for hit in found)
        return hits

    def _bank_evidence(self, found: dict[int, list[Evidence]], hashes: _MediaHits) -> None:
        """Hash evidence: `value` is the bank's hash, `matched` the post's; PDQ evidence
        also has the distance between them."""
        for field, pack_id, hit in hashes:
            evidence = Evidence(
                hit.algo,
                field,
                hit.value,
                matched=hit.matched,
                bank=hit.bank,
                distance=hit.distance if hit.algo == "pdq" else None,
            )
            for leaf_id in self._bank_leaves.get((pack_id, hit.bank), ()):
                found[leaf_id].append(evidence)

    def _text_values(self, post: Post) -> tuple[list[str], list[str], list[str]]:
        """The field, evidence name and value of each text of the post the packs look at,
        in field order (what a hit's `index` points into)."""
        if self._text_fields == ["text"] or (
            self._text_fields == _DEFAULT_FIELDS and not post.media
        ):  # the common case, kept short
            return ["text"], ["text"], [post.text]
        kinds: list[str] = []
        names: list[str] = []
        values: list[str] = []
        for field in self._text_fields:
            for name, value in _field_values(post, field):
                kinds.append(field)
                names.append(name)
                values.append(value)
        return kinds, names, values

    def _text_evidence(
        self, post: Post, found: dict[int, list[Evidence]], keywords: list[Hit] | None
    ) -> None:
        """Keyword and regex evidence; `keywords`, when given, are the hits in the text and
        the text in images (the packs look at no other field: `evaluate_many`)."""
        kinds, names, values = self._text_values(post)
        if not any(values):
            return
        if keywords is None:
            keywords = self._matcher.keywords(values)
        regexes = self._matcher.regex(values) if self._patterns else []
        for hits, index, kind in (
            (keywords, self._terms, "keyword"),
            (regexes, self._patterns, "regex"),
        ):
            for hit in hits:
                value = values[hit.index]
                for leaf_id in index.get((kinds[hit.index], hit.key), ()):
                    found[leaf_id].append(
                        Evidence(
                            kind, names[hit.index], hit.key, hit.span, matched_at(value, hit.span)
                        )
                    )

    def _domain_evidence(self, post: Post, found: dict[int, list[Evidence]]) -> None:
        for i, link in enumerate(post.links):
            quoted = matched_at(link, (0, len(link)))
            for leaf_id, domain in self._domain_leaves(host(link)):
                found[leaf_id].append(Evidence("domain", f"links[{i}]", domain, None, quoted))
        for url, span in urls_in_text(post.text):
            for leaf_id, domain in self._domain_leaves(host(url)):
                found[leaf_id].append(
                    Evidence("domain", "text", domain, span, matched_at(post.text, span))
                )

    def _domain_leaves(self, host: str | None) -> list[tuple[int, str]]:
        """The domain leaves that hold for a host: the host and each parent domain of it."""
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
                return self._at_least(1, children, found)
            case AllOf(children=children):
                return self._at_least(len(children), children, found)
            case AtLeast(n=n, children=children):
                return self._at_least(n, children, found)
            case Not(child=child):
                return [] if self._holds(child, found) is None else None
            case _:
                return found.get(self._leaf_ids[condition])

    def _at_least(
        self, n: int, children: tuple[Condition, ...], found: dict[int, list[Evidence]]
    ) -> list[Evidence] | None:
        """The evidence of every child that holds, if at least n of them hold."""
        parts = [self._holds(child, found) for child in children]
        if sum(part is not None for part in parts) < n:
            return None
        return [e for part in parts if part is not None for e in part]
