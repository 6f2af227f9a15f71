"""Rule packs: YAML in, validated `Pack` out, or every problem found with its file and line.

A pack is loaded whole or not at all: `load_pack` raises `PackError` listing each problem
as `file:line: rule-id: message`, and nothing else, whatever the pack holds. Packs come from
untrusted hands, so loading one is bounded: its size (`MAX_PACK_CHARS`), its nesting, what
its YAML may hold (anchors and aliases are refused: they buy nothing in a rule pack and are
the vehicle of "billion laughs" documents), the files its banks may read (regular files
inside the pack's folder, `MAX_BANK_FILE_BYTES` at most; a pack given as text names none)
and the work its regexes may ask of the compiler (`check_regexes`).
"""

from __future__ import annotations

import csv
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml

from postwatch.rules.language.errors import PackError, PackProblem
from postwatch.rules.language.model import (
    DEFAULT_FIELDS,
    FIELDS,
    Accounts,
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    CorrelationConfig,
    Domains,
    Hashes,
    Keywords,
    Not,
    Pack,
    Regex,
    Rule,
    RuleTest,
    Scope,
    Severity,
    Status,
    WatchedAccount,
)
from postwatch.rules.matching.banks import BankSpec, BankSpecError, HashBank, load_bank
from postwatch.rules.matching.banks.formats import MAX_BANK_FILE_BYTES
from postwatch.rules.matching.cache import CompileCache
from postwatch.rules.matching.matchers.text import MAX_REGEXES, check_regexes
from postwatch.rules.matching.normalize import fold_term
from postwatch.rules.posts import InvalidPost, post_from_dict

__all__ = [
    "MAX_BANK_FILE_BYTES",
    "MAX_PACK_CHARS",
    "correlation_of",
    "load_pack",
    "load_packs",
    "pack_text",
    "parse_pack",
    "plain_document",
]

MAX_PACK_CHARS = 500_000
"""Packs from untrusted hands load within bounded time and memory: bigger ones are refused.
The worst half a million characters hold (125,000 one-item lists) parse in about 3 s and
200 MiB; a pack of 10,000 phrases is 200,000 characters and loads in 0.9 s."""
MAX_CONDITION_DEPTH = 32
MAX_VERSION = 2**53 - 1
"""The highest pack version: an integer every JSON reader of an alert takes exactly."""
MAX_TERM_CHARS = 1_000
"""The longest keyword or list term: a long quote fits; the matching engine refuses patterns
some ten times longer."""
_PACK_KEYS = {
    "pack",
    "version",
    "description",
    "lists",
    "watchlists",
    "banks",
    "correlation",
    "rules",
}
_RULE_KEYS = {
    "id",
    "title",
    "description",
    "severity",
    "tags",
    "status",
    "scope",
    "match",
    "exceptions",
    "tests",
    "learn",
}
_SCOPE_KEYS = {"sources", "languages"}
_TEST_KEYS = {"match", "no_match"}
_TEST_TIME = "2025-01-01T00:00:00Z"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")  # \Z: $ would also take a final newline
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}\Z")
# what a bank file's reader may raise for content it did not foresee (a CSV field over the
# csv module's limit, an integer of more digits than int() reads, JSON nested too deeply)
_READER_FAULTS = (ValueError, csv.Error, RecursionError)


class _Map(dict[str, Any]):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int = 0
    key_lines: Mapping[str, int] = MappingProxyType({})


class _Seq(list[Any]):
    """A YAML sequence that remembers the line of each item (1-based)."""

    line: int = 0
    item_lines: Sequence[int] = ()


# libyaml's parser where PyYAML has it (500,000 characters of one-item lists: 3.2 s instead of
# 14, 200 MiB instead of 275); it also refuses nesting deeper than 1,000 levels
if TYPE_CHECKING:
    _SafeLoader = yaml.CSafeLoader
else:
    _SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Alias(Exception):
    """A node of the document is reached a second time: through an alias."""


class _Loader(_SafeLoader):
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise _Alias
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:  # a 5,000-digit int, 2025-13-45
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                problem=f"cannot read this value as {kind}", problem_mark=node.start_mark
            ) from exc

    def construct_line_map(self, node: yaml.MappingNode) -> _Map:
        out = _Map()
        out.line = node.start_mark.line + 1
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if str(key) in out:  # YAML would keep the last: a rule or condition lost unsaid
                raise yaml.constructor.ConstructorError(
                    problem=f"duplicate key {str(key)!r}", problem_mark=key_node.start_mark
                )
            out[str(key)] = self.construct_object(value_node, deep=True)
            key_lines[str(key)] = key_node.start_mark.line + 1
        out.key_lines = key_lines
        return out

    def construct_line_seq(self, node: yaml.SequenceNode) -> _Seq:
        out = _Seq(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_line_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_line_seq)


def _line_of(container: Any, key: str | int, default: int) -> int:
    if isinstance(container, _Map) and isinstance(key, str):
        return container.key_lines.get(key, container.line)
    if isinstance(container, _Seq) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return default


@dataclass
class _Context:
    file: str
    folder: Path | None  # where bank files are read; None: the pack may name none
    cache: CompileCache | None = None  # where banks read from files are kept
    problems: list[PackProblem] = field(default_factory=list)
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    watchlists: dict[str, frozenset[str]] = field(default_factory=dict)
    accounts: dict[str, WatchedAccount] = field(default_factory=dict)
    banks: dict[str, HashBank] = field(default_factory=dict)
    # each regex of the pack -> where it is written (line, rule id)
    regexes: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    rule_id: str | None = None
    depth: int = 0
    pack: str = ""

    def problem(self, line: int, message: str) -> None:
        self.problems.append(PackProblem(self.file, line, message, self.rule_id))


def load_packs(paths: list[Path], cache: CompileCache | None = None) -> list[Pack]:
    """Load several packs; raises one `PackError` with the problems of all of them. With
    `cache`, the banks they read from files are kept there and taken from there."""
    packs: list[Pack] = []
    problems: list[PackProblem] = []
    for path in paths:
        try:
            packs.append(load_pack(path, cache))
        except PackError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PackError(problems)
    ids = [pack.id for pack in packs]
    duplicated = sorted({pid for pid in ids if ids.count(pid) > 1})
    if duplicated:
        raise PackError(
            [
                PackProblem(p.source_file, 1, f"pack id {p.id!r} is loaded twice")
                for p in packs
                if p.id in duplicated
            ]
        )
    return packs


def load_pack(path: Path, cache: CompileCache | None = None) -> Pack:
    """Load and validate one rule pack file; its banks' files are read from its folder
    (or their hashes taken from `cache`, see `load_bank`)."""
    return parse_pack(pack_text(path), str(path), folder=path.parent, cache=cache)


def pack_text(path: Path) -> str:
    """The text of a pack file, read no further than a pack may be long."""
    try:
        with path.open("rb") as f:
            data = f.read(4 * MAX_PACK_CHARS + 1)  # UTF-8 takes 4 bytes a character at most
        if len(data) > 4 * MAX_PACK_CHARS:
            raise PackError([_too_large(str(path))])
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError([PackProblem(str(path), 0, f"cannot read pack: {exc}")]) from exc


def _too_large(file: str) -> PackProblem:
    return PackProblem(
        file,
        0,
        f"pack is larger than {MAX_PACK_CHARS:,} characters: put "
        "large hash lists in bank files and large term lists in several packs",
    )


def parse_pack(
    text: str, file: str, *, folder: Path | None = None, cache: CompileCache | None = None
) -> Pack:
    """Parse and validate the YAML text of a pack; `file` names it in error messages.
    Bank files are read from `folder` (and from within it only), or their hashes taken from
    `cache`; with no folder, a bank that names a file is a problem (a pack from the rules
    topic carries its hashes)."""
    ctx = _Context(file, folder, cache)
    doc = _document(text, file)
    if not isinstance(doc, _Map):
        raise PackError([PackProblem(file, 1, "a pack must be a YAML mapping")])
    pack = _parse_pack(doc, ctx)
    if ctx.problems or pack is None:
        raise PackError(sorted(ctx.problems, key=lambda p: p.line))
    return pack


def plain_document(text: str, file: str) -> Any:
    """The YAML of a pack as plain data (dicts, lists, scalars), with the refusals of
    `parse_pack` (size, aliases, tags, nesting); raises `PackError`."""
    return _plain(_document(text, file))


def _document(text: str, file: str) -> Any:
    if len(text) > MAX_PACK_CHARS:
        raise PackError([_too_large(file)])
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _Alias:
        problem = "anchors and aliases are not allowed in rule packs"
        raise PackError(
            [PackProblem(file, _alias_line(text), f"invalid YAML: {problem}")]
        ) from None
    except RecursionError as exc:
        raise PackError([PackProblem(file, 0, "invalid YAML: nested too deeply")]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # libyaml places the end of a text with no final newline on a line after it
        line = min(mark.line + 1, text.count("\n") + 1) if mark is not None else 0
        deep = "nesting depth" in str(exc.problem)  # libyaml's words for it
        what = "nested too deeply" if deep else exc.problem
        raise PackError([PackProblem(file, line, f"invalid YAML: {what}")]) from exc
    except yaml.YAMLError as exc:
        raise PackError([PackProblem(file, 0, f"invalid YAML: {exc}")]) from exc
    except UnicodeEncodeError as exc:  # libyaml reads UTF-8, which has no lone surrogates
        problem = "invalid YAML: a lone surrogate is no character"
        raise PackError([PackProblem(file, 0, problem)]) from exc


def _alias_line(text: str) -> int:
    """The line of the first alias in a document that has one."""
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
            return int(event.start_mark.line) + 1
    return 0


def _parse_pack(doc: _Map, ctx: _Context) -> Pack | None:
    for key in doc:
        if key not in _PACK_KEYS:
            ctx.problem(_line_of(doc, key, doc.line), f"unknown key {key!r} in pack")
    pack_id = doc.get("pack")
    if not isinstance(pack_id, str) or not _ID.match(pack_id):
        ctx.problem(_line_of(doc, "pack", doc.line), "'pack' must be an id (letters, digits, _.:-)")
    else:
        ctx.pack = pack_id
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
        ctx.problem(
            _line_of(doc, "version", doc.line),
            f"'version' must be a whole number from 1 to {MAX_VERSION}",
        )
    _parse_lists(doc, ctx)
    _parse_watchlists(doc, ctx)
    _parse_banks(doc, ctx)
    correlation = _parse_correlation(doc, ctx)
    rules_doc = doc.get("rules")
    rules: list[Rule] = []
    if not isinstance(rules_doc, _Seq) or not rules_doc:
        ctx.problem(_line_of(doc, "rules", doc.line), "'rules' must be a non-empty list")
    elif isinstance(pack_id, str) and isinstance(version, int):
        seen: dict[str, int] = {}
        for i, rule_doc in enumerate(rules_doc):
            line = _line_of(rules_doc, i, rules_doc.line)
            rule_id = rule_doc.get("id") if isinstance(rule_doc, _Map) else None
            if isinstance(rule_id, str) and rule_id in seen:
                ctx.rule_id = rule_id
                ctx.problem(line, f"duplicate rule id (first defined on line {seen[rule_id]})")
                continue
            if isinstance(rule_id, str):
                seen[rule_id] = line
            rule = _parse_rule(rule_doc, line, pack=pack_id, version=version, ctx=ctx)
            if rule is not None:
                rules.append(rule)
        _check_regexes(ctx)
    if ctx.problems or not isinstance(pack_id, str) or not isinstance(version, int):
        return None
    return Pack(
        pack_id,
        version,
        ctx.file,
        tuple(rules),
        dict(ctx.banks),
        tuple(ctx.accounts.values()),
        correlation,
    )


def _strings(value: Any, line: int, what: str, ctx: _Context) -> Iterator[tuple[str, int]]:
    """The non-empty strings of a list, each with its line; problems for anything else."""
    if not isinstance(value, _Seq):
        ctx.problem(line, f"{what} must be a list")
        return
    for i, item in enumerate(value):
        item_line = _line_of(value, i, line)
        if not isinstance(item, str) or not item.strip():
            ctx.problem(item_line, f"{what} must hold non-empty strings, not {item!r}")
            continue
        yield item, item_line


def _mapping(doc: _Map, key: str, ctx: _Context) -> _Map | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, _Map):
        ctx.problem(_line_of(doc, key, doc.line), f"'{key}' must be a mapping")
        return None
    return value


def _parse_lists(doc: _Map, ctx: _Context) -> None:
    lists = _mapping(doc, "lists", ctx)
    for name, value in (lists or {}).items():
        line = _line_of(lists, name, 0)
        items = _strings(value, line, f"list {name!r}", ctx)
        ctx.lists[name] = tuple(s for s, s_line in items if not _too_long(s, s_line, ctx))


def _too_long(term: str, line: int, ctx: _Context) -> bool:
    """Whether a term is longer than `MAX_TERM_CHARS` (a problem at `line` if it is)."""
    if len(term) <= MAX_TERM_CHARS:
        return False
    ctx.problem(line, f"term {term[:40]!r}... is longer than {MAX_TERM_CHARS:,} characters")
    return True


def _parse_watchlists(doc: _Map, ctx: _Context) -> None:
    watchlists = _mapping(doc, "watchlists", ctx)
    for name, entries in (watchlists or {}).items():
        line = _line_of(watchlists, name, 0)
        if not isinstance(entries, _Seq):
            ctx.problem(line, f"watchlist {name!r} must be a list of accounts")
            continue
        ids: set[str] = set()
        for i, entry in enumerate(entries):
            entry_line = _line_of(entries, i, line)
            if not isinstance(entry, _Map) or not isinstance(entry.get("id"), str):
                ctx.problem(entry_line, f"watchlist {name!r} entries need an 'id' string")
                continue
            unknown = set(entry) - {"id", "handle", "display_name"}
            for key in sorted(unknown):
                ctx.problem(_line_of(entry, key, entry_line), f"unknown key {key!r} in account")
            ids.add(entry["id"])
            names = {k: v for k in ("handle", "display_name") if isinstance(v := entry.get(k), str)}
            ctx.accounts[entry["id"]] = WatchedAccount(entry["id"], **names, pack=ctx.pack or None)
        ctx.watchlists[name] = frozenset(ids)


def correlation_of(text: str, file: str) -> tuple[str, dict[str, float]]:
    """A pack's id and `correlation` section, read and checked as `parse_pack` would and
    nothing else of it (for what correlates alerts, which needs no rules); raises
    `PackError` for a text that is no pack or a section with problems."""
    doc = _document(text, file)
    ctx = _Context(file, None)
    pack_id = doc.get("pack") if isinstance(doc, _Map) else None
    if not isinstance(doc, _Map) or not isinstance(pack_id, str) or not _ID.match(pack_id):
        raise PackError([PackProblem(file, 1, "a pack must be a YAML mapping with a 'pack' id")])
    correlation = _parse_correlation(doc, ctx)
    if ctx.problems:
        raise PackError(ctx.problems)
    return pack_id, correlation


def _parse_correlation(doc: _Map, ctx: _Context) -> dict[str, float]:
    """The `correlation` section: thresholds and windows of `CorrelationConfig` by name,
    checked against the defaults."""
    section = _mapping(doc, "correlation", ctx)
    if not section:
        return {}
    names = CorrelationConfig.__dataclass_fields__
    values = {key: value for key, value in section.items() if key in names}
    for key in section:
        if key not in names:
            known = ", ".join(names)
            message = f"unknown key {key!r} in correlation (it takes {known})"
            ctx.problem(_line_of(section, key, section.line), message)
    try:
        CorrelationConfig().overridden(values)
    except ValueError as exc:
        ctx.problem(_line_of(doc, "correlation", doc.line), f"correlation: {exc}")
        return {}
    return values


def _parse_banks(doc: _Map, ctx: _Context) -> None:
    """Check each `banks:` entry and load it, hash-list file included (one inside the
    pack's folder); a bank's own problems and its file's (with that file's lines) join the
    pack's."""
    banks = _mapping(doc, "banks", ctx)
    for name, entry in (banks or {}).items():
        line = _line_of(banks, name, 0)
        ctx.banks[name] = HashBank(name)  # rules may name it even when it has problems
        if not isinstance(entry, _Map):
            ctx.problem(line, f"bank {name!r} must be a mapping")
            continue
        try:
            spec = BankSpec.parse(name, entry, ctx.folder or Path())
        except BankSpecError as exc:
            for key, message in exc.problems:
                ctx.problem(_line_of(entry, key, line) if key else line, message)
            continue
        file_line = _line_of(entry, "file", line)
        if spec.file is not None and ctx.folder is None:
            ctx.problem(
                file_line,
                f"bank {name!r} names a file, which a pack from the rules topic may not: "
                "`rules publish` puts the file's hashes in the pack",
            )
            continue
        if spec.file is not None and ctx.folder is not None:
            file = _bank_file(spec.file, ctx.folder)
            if isinstance(file, str):
                ctx.problem(file_line, f"bank {name!r} file {entry['file']!r} {file}")
                continue
            spec = replace(spec, file=file)
        try:
            ctx.banks[name] = load_bank(spec, ctx.cache)
        except PackError as exc:
            ctx.problems.extend(exc.problems)
        except _READER_FAULTS as exc:  # the message may quote the file: name the fault only
            fault = f"{type(exc).__module__.lstrip('_')}.{type(exc).__qualname__}"
            fault = fault.removeprefix("builtins.")
            ctx.problem(file_line, f"bank {name!r} file {entry['file']!r} cannot be read ({fault})")


def _bank_file(path: Path, folder: Path) -> Path | str:
    """The real path of a bank's file when it may be read, or what is wrong with it: it
    must be a regular file, no larger than `MAX_BANK_FILE_BYTES`, inside the pack's folder
    once links are followed (a pack must not read what its folder does not hold:
    /proc/self/environ, /dev/zero, the worker's files)."""
    try:
        real = path.resolve(strict=True)
        inside = real.is_relative_to(folder.resolve(strict=True))
        info = real.stat()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    except RuntimeError:
        return "cannot be read: a loop of links"
    except ValueError:  # a NUL in it, say
        return "cannot be read: a name no file can have"
    for wrong, what in (
        (not inside, "is not inside the pack's folder"),
        (not stat.S_ISREG(info.st_mode), "is not a regular file"),
        (info.st_size > MAX_BANK_FILE_BYTES, f"is larger than {MAX_BANK_FILE_BYTES:,} bytes"),
    ):
        if wrong:
            return what
    return real


def _parse_rule(doc: Any, line: int, *, pack: str, version: int, ctx: _Context) -> Rule | None:
    ctx.rule_id = None
    if not isinstance(doc, _Map):
        ctx.problem(line, "a rule must be a mapping")
        return None
    rule_id = doc.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        hint = (
            " (YAML reads off/no/yes as booleans: quote the id)"
            if isinstance(rule_id, bool)
            else ""
        )
        ctx.problem(
            _line_of(doc, "id", line),
            f"a rule needs an 'id' of letters, digits and _.:-, not {rule_id!r}{hint}",
        )
        return None
    ctx.rule_id = rule_id
    before = len(ctx.problems)
    for key in doc:
        if key not in _RULE_KEYS:
            ctx.problem(_line_of(doc, key, line), f"unknown key {key!r} in rule")
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        ctx.problem(_line_of(doc, "title", line), "a rule needs a 'title'")
    severity = _enum(doc, "severity", line, ctx, members=Severity.__members__, default="medium")
    status = _enum(
        doc, "status", line, ctx, members={s.value.upper(): s for s in Status}, default="live"
    )
    tags = tuple(
        t for t, _ in _strings(doc.get("tags", _Seq()), _line_of(doc, "tags", line), "'tags'", ctx)
    )
    match: Condition | None = None
    if "match" not in doc:
        ctx.problem(line, "a rule needs a 'match' condition")
    else:
        match_line = _line_of(doc, "match", line)
        match = _parse_condition(doc["match"], match_line, ctx)
        if match is not None and not _needs_evidence(match):
            ctx.problem(match_line, "'match' can hold with no evidence (a bare 'not'?)")
    exceptions = None
    if "exceptions" in doc:
        exceptions = _parse_exceptions(doc["exceptions"], _line_of(doc, "exceptions", line), ctx)
    scope = _parse_scope(doc, line, ctx)
    tests = _parse_tests(doc, line, rule_id, scope, ctx)
    learn = doc.get("learn", False)
    if not isinstance(learn, bool):
        ctx.problem(_line_of(doc, "learn", line), f"'learn' must be true or false, not {learn!r}")
    if len(ctx.problems) > before or match is None or not isinstance(title, str):
        return None
    assert isinstance(severity, Severity)
    assert isinstance(status, Status)
    return Rule(
        id=rule_id,
        title=title.strip(),
        severity=severity,
        pack=pack,
        version=version,
        match=match,
        tags=tags,
        status=status,
        source_file=ctx.file,
        line=line,
        exceptions=exceptions,
        scope=scope,
        tests=tests,
        learn=learn,
    )


def _needs_evidence(condition: Condition) -> bool:
    """Whether the condition can only hold with some evidence (an alert needs one)."""
    match condition:
        case AnyOf(children=children):
            return all(_needs_evidence(c) for c in children)
        case AllOf(children=children):
            return any(_needs_evidence(c) for c in children)
        case AtLeast(n=n, children=children):
            return sum(not _needs_evidence(c) for c in children) < n
        case Not():
            return False
        case _:
            return True


def _parse_exceptions(value: Any, line: int, ctx: _Context) -> Condition | None:
    """A condition, or a list of conditions any of which makes an exception."""
    if isinstance(value, _Seq):
        return _CONDITIONS["any"](value, line, ctx)
    return _parse_condition(value, line, ctx)


def _parse_scope(doc: _Map, line: int, ctx: _Context) -> Scope:
    spec = _mapping(doc, "scope", ctx)
    if spec is None:
        return Scope()
    scope_line = _line_of(doc, "scope", line)
    for key in spec:
        if key not in _SCOPE_KEYS:
            ctx.problem(_line_of(spec, key, scope_line), f"unknown key {key!r} in scope")
    sources, languages = (
        frozenset(
            s.strip().lower()
            for s, _ in _strings(
                spec.get(key, _Seq()), _line_of(spec, key, scope_line), f"scope {key}", ctx
            )
        )
        for key in ("sources", "languages")
    )
    return Scope(sources, frozenset(lang.split("-", 1)[0] for lang in languages))


def _parse_tests(
    doc: _Map, line: int, rule_id: str, scope: Scope, ctx: _Context
) -> tuple[RuleTest, ...]:
    spec = _mapping(doc, "tests", ctx)
    if spec is None:
        return ()
    tests_line = _line_of(doc, "tests", line)
    for key in spec:
        if key not in _TEST_KEYS:
            ctx.problem(_line_of(spec, key, tests_line), f"unknown key {key!r} in tests")
    defaults: dict[str, Any] = {
        "schema": "postwatch.post/1",
        "source": min(scope.sources, default="test"),
        "created_at": _TEST_TIME,
        "text": "",
    }
    if scope.languages:
        defaults["lang"] = min(scope.languages)
    tests: list[RuleTest] = []
    for kind in ("match", "no_match"):
        posts = spec.get(kind, _Seq())
        kind_line = _line_of(spec, kind, tests_line)
        if not isinstance(posts, _Seq):
            ctx.problem(kind_line, f"tests {kind} must be a list of posts")
            continue
        for i, fields in enumerate(posts):
            post_line = _line_of(posts, i, kind_line)
            if not isinstance(fields, _Map):
                ctx.problem(post_line, f"tests {kind}[{i}] must be a mapping of post fields")
                continue
            author = fields.get("author") or {}
            if isinstance(author, dict):  # anything else is the post's problem, told below
                author = {"id": "test:author", **author}
            doc_post = {**defaults, "id": f"test:{rule_id}/{kind}/{i}", **fields, "author": author}
            try:
                post = post_from_dict(_plain(doc_post))
            except InvalidPost as exc:
                ctx.problem(post_line, f"tests {kind}[{i}] is not a valid post: {exc.error}")
                continue
            tests.append(RuleTest(kind == "match", post, post_line))
    return tuple(tests)


def _plain(value: Any) -> Any:
    """The value with the loader's line-keeping containers made plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _enum(doc: _Map, key: str, line: int, ctx: _Context, *, members: Any, default: str) -> object:
    value = doc.get(key, default)
    member = members.get(value.upper()) if isinstance(value, str) else None
    if member is None:
        allowed = " | ".join(name.lower() for name in members)
        ctx.problem(_line_of(doc, key, line), f"'{key}' must be one of {allowed}, not {value!r}")
    return member


def _parse_condition(doc: Any, line: int, ctx: _Context) -> Condition | None:
    if ctx.depth >= MAX_CONDITION_DEPTH:
        ctx.problem(line, f"conditions nest deeper than {MAX_CONDITION_DEPTH} levels")
        return None
    ctx.depth += 1
    try:
        return _parse_one_condition(doc, line, ctx)
    finally:
        ctx.depth -= 1


def _parse_one_condition(doc: Any, line: int, ctx: _Context) -> Condition | None:
    if not isinstance(doc, _Map) or len(doc) != 1:
        ctx.problem(
            line, "a condition is a mapping with exactly one key: " + ", ".join(sorted(_CONDITIONS))
        )
        return None
    ((key, value),) = doc.items()
    parse = _CONDITIONS.get(key)
    key_line = _line_of(doc, key, line)
    if parse is None:
        ctx.problem(key_line, f"unknown condition {key!r}")
        return None
    before = len(ctx.problems)
    condition = parse(value, key_line, ctx)
    if condition is None and len(ctx.problems) == before:
        ctx.problem(key_line, f"'{key}' needs at least one value")
    return condition


_ConditionParser = Callable[[Any, int, _Context], Condition | None]


def _parse_group(kind: type[AnyOf] | type[AllOf]) -> _ConditionParser:
    def parse(value: Any, line: int, ctx: _Context) -> Condition | None:
        if not isinstance(value, _Seq) or not value:
            ctx.problem(line, "'any', 'all' and 'of' take a non-empty list of conditions")
            return None
        children = [
            _parse_condition(child, _line_of(value, i, line), ctx) for i, child in enumerate(value)
        ]
        if any(child is None for child in children):
            return None
        return kind(tuple(c for c in children if c is not None))

    return parse


def _fields_form(
    value: Any,
    line: int,
    key: str,
    what: str,
    ctx: _Context,
    *,
    take: Callable[[str, int, _Context], Sequence[str]],
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """A list of values, or {KEY: [values], fields: [names]}: what `take` makes of each value
    (given the value and its line; nothing where it reports a problem), without repeats, and
    the fields; None where there is a problem with the form or nothing is left."""
    if isinstance(value, _Map):
        unknown = set(value) - {key, "fields"}
        for name in sorted(unknown):
            ctx.problem(_line_of(value, name, line), f"unknown key {name!r} in '{what}'")
        fields: list[str] = []
        fields_line = _line_of(value, "fields", line)
        for name, name_line in _strings(
            value.get("fields", _Seq(DEFAULT_FIELDS)), fields_line, "'fields'", ctx
        ):
            if name not in FIELDS:
                ctx.problem(name_line, f"unknown field {name!r} (one of {', '.join(FIELDS)})")
            else:
                fields.append(name)
        if key not in value:
            ctx.problem(line, f"'{what}' needs '{key}'")
            return None
        if unknown or not fields:
            return None
        value = value[key]
    else:
        fields = list(DEFAULT_FIELDS)
    taken = [
        made for item, at in _strings(value, line, f"'{what}'", ctx) for made in take(item, at, ctx)
    ]
    return (tuple(dict.fromkeys(taken)), tuple(dict.fromkeys(fields))) if taken else None


def _parse_regex(value: Any, line: int, ctx: _Context) -> Condition | None:
    form = _fields_form(value, line, "patterns", "regex", ctx, take=_regex)
    return Regex(*form) if form else None


def _regex(item: str, item_line: int, ctx: _Context) -> Sequence[str]:
    ctx.regexes.setdefault(item, []).append((item_line, ctx.rule_id))
    if len(ctx.regexes) == MAX_REGEXES + 1 and len(ctx.regexes[item]) == 1:
        ctx.problem(item_line, f"more than {MAX_REGEXES:,} regexes in the pack")
    return (item,)


def _check_regexes(ctx: _Context) -> None:
    """Whether each regex of the pack can be used (`check_regexes`, all in one go: compiling
    runs in a child process, with a time limit); a problem where each one that cannot is
    written. Not when there are too many: the pack is refused for that already."""
    if not ctx.regexes or len(ctx.regexes) > MAX_REGEXES:
        return
    patterns = list(ctx.regexes)
    for index, reason in sorted(check_regexes(patterns).items()):
        pattern = patterns[index]
        for line, rule_id in ctx.regexes[pattern]:
            ctx.problems.append(PackProblem(ctx.file, line, f"regex /{pattern}/ {reason}", rule_id))


def _parse_not(value: Any, line: int, ctx: _Context) -> Condition | None:
    child = _parse_condition(value, line, ctx)
    return Not(child) if child is not None else None


def _parse_at_least(value: Any, line: int, ctx: _Context) -> Condition | None:
    if not isinstance(value, _Map) or set(value) != {"n", "of"}:
        ctx.problem(line, "'at_least' takes {n: NUMBER, of: [conditions]}")
        return None
    n, of = value["n"], value["of"]
    group = _CONDITIONS["any"](of, _line_of(value, "of", line), ctx)
    if not isinstance(group, AnyOf):
        return None
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(group.children):
        ctx.problem(
            _line_of(value, "n", line),
            f"'at_least' n must be from 1 to the number of conditions ({len(group.children)})",
        )
        return None
    return AtLeast(n, group.children)


def _parse_keywords(value: Any, line: int, ctx: _Context) -> Condition | None:
    form = _fields_form(value, line, "terms", "keywords", ctx, take=_keyword_terms)
    return Keywords(*form) if form else None


def _keyword_terms(item: str, item_line: int, ctx: _Context) -> Sequence[str]:
    """The term, or the terms of the list `$NAME` names."""
    if item.startswith("$"):
        listed = ctx.lists.get(item[1:])
        if listed is None:
            ctx.problem(item_line, f"undefined list {item!r}")
            return ()
        return listed
    if _too_long(item, item_line, ctx):
        return ()
    if not fold_term(item):
        ctx.problem(item_line, f"keyword {item!r} has no letters or digits to match")
        return ()
    return (item,)


def _parse_hashes(value: Any, line: int, ctx: _Context) -> Condition | None:
    if not isinstance(value, _Map) or set(value) != {"bank"} or not isinstance(value["bank"], str):
        ctx.problem(line, "'hashes' takes {bank: NAME}")
        return None
    if value["bank"] not in ctx.banks:
        ctx.problem(line, f"unknown bank {value['bank']!r}")
        return None
    return Hashes(ctx.pack, value["bank"])


def _parse_accounts(value: Any, line: int, ctx: _Context) -> Condition | None:
    ids = frozenset(s.strip() for s, _ in _strings(value, line, "'accounts'", ctx))
    return Accounts(ids) if ids else None


def _parse_watchlist(value: Any, line: int, ctx: _Context) -> Condition | None:
    if not isinstance(value, str) or value not in ctx.watchlists:
        ctx.problem(line, f"unknown watchlist {value!r}")
        return None
    return Accounts(ctx.watchlists[value])


def _parse_domains(value: Any, line: int, ctx: _Context) -> Condition | None:
    domains: list[str] = []
    for item, item_line in _strings(value, line, "'domains'", ctx):
        domain = item.strip().lower().rstrip(".")
        if not _DOMAIN.match(domain):
            ctx.problem(item_line, f"not a domain name: {item!r}")
        else:
            domains.append(domain)
    return Domains(tuple(domains)) if domains else None


_CONDITIONS: dict[str, _ConditionParser] = {
    "any": _parse_group(AnyOf),
    "all": _parse_group(AllOf),
    "not": _parse_not,
    "at_least": _parse_at_least,
    "keywords": _parse_keywords,
    "regex": _parse_regex,
    "hashes": _parse_hashes,
    "accounts": _parse_accounts,
    "watchlist": _parse_watchlist,
    "domains": _parse_domains,
}
