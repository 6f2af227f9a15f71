"""The alert store: an embedded SQLite database of the alerts and decisions on their topics,
for search, pivots (author, rule, media hash, domain, fingerprint), the review queue and rule
quality.

It is a cache, never the system of record: `follow` rebuilds it from the alerts and
decisions topics whenever a process starts, then keeps it up to date. Alerts are kept once
each (a redelivered alert has the same `alert_id`); decisions are appended in topic order,
and an alert's verdict is that of its latest decision that is no `note`. A decision may
arrive before its alert (the two topics are read side by side): it is kept, and the alert
takes its verdict when it comes.

SQLite rather than DuckDB on measurement at a million alerts (`benchmarks/store_bench.py`,
figures in docs/performance.md): the store's work is keyed lookups, one-row updates and the
newest few rows of a filter, which its B-tree indexes answer in under a millisecond where
DuckDB's scans take tens to hundreds; only rule quality, an aggregate over every alert, is
faster on DuckDB, and not by much.

Usage (one store a process; every method may be called from any thread)::

    store = AlertStore()
    ready = asyncio.Event()
    task = asyncio.create_task(follow(settings, store, ready))
    await ready.wait()
    for stored in store.search(Query(author="bluesky:did:plc:abc", verdict="undecided")):
        print(stored.alert.alert_id, stored.verdict)
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import msgspec
import structlog

from postwatch.alerts import AlertsError, MissingTopic
from postwatch.kafka.clients import TopicPartition, new_consumer
from postwatch.kafka.topics import ALERTS, DECISIONS, ensure_topics, partitions_of
from postwatch.rules import Severity
from postwatch.rules.alerts import Alert, encode
from postwatch.rules.alerts import decode as decode_alert
from postwatch.rules.decisions import Decision, Verdict
from postwatch.settings import Settings

__all__ = [
    "HASH_TYPES",
    "UNDECIDED",
    "AlertStore",
    "Query",
    "RuleStats",
    "StoreError",
    "Stored",
    "follow",
    "rebuilt",
    "select",
]

log = structlog.get_logger(__name__)

UNDECIDED = "undecided"
"""`Query.verdict` of the alerts no verdict was given on (notes aside)."""
HASH_TYPES = frozenset({"sha256", "md5", "pdq"})
"""Evidence types whose `value` and `matched` are media hashes."""
_CHUNK = 900
"""Ids a query lists at most (SQLite's limit on variables is far above)."""
_BATCH = 2000
"""Records `follow` reads at most in one fetch."""

# what an alert is indexed by besides its columns: `_terms` lists an alert's
_HASH, _DOMAIN, _FINGERPRINT, _ENTRY = 1, 2, 3, 4
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL UNIQUE,
    detected INTEGER NOT NULL,      -- detected_at, milliseconds since the epoch
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity INTEGER NOT NULL,
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    verdict TEXT,                   -- the latest verdict that is no note; NULL: undecided
    body BLOB NOT NULL              -- the Alert v1 JSON
);
CREATE TABLE terms (                -- what else an alert is found by (see `_terms`)
    kind INTEGER NOT NULL,
    value TEXT NOT NULL,
    detected INTEGER NOT NULL,      -- the alert's: the newest alerts of a term come first
    alert INTEGER NOT NULL,
    PRIMARY KEY (kind, value, detected, alert)
) WITHOUT ROWID;
CREATE TABLE decisions (
    seq INTEGER PRIMARY KEY,        -- topic order: the latest wins
    decision_id TEXT NOT NULL UNIQUE,
    alert_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    body BLOB NOT NULL              -- the decision's JSON
);
CREATE INDEX decisions_alert ON decisions (alert_id, seq);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS alerts_detected ON alerts (detected);
CREATE INDEX IF NOT EXISTS alerts_author ON alerts (author, detected);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule, detected, kind, verdict);
CREATE INDEX IF NOT EXISTS alerts_verdict ON alerts (verdict, detected);
CREATE INDEX IF NOT EXISTS alerts_queue ON alerts (verdict IS NULL, detected);
"""
"""The indexes of searches (`alerts_rule` covers rule quality, `alerts_queue` is the review
queue's order), made once the first load is in: built from a million rows at once they
cost less than kept up to date row by row through the load (docs/performance.md)."""
_TABLES = ("alerts", "terms", "decisions")


class StoreError(AlertsError):
    """The store's file cannot be used (not a database, unwritable), or a query is wrong."""


@dataclass(frozen=True, slots=True)
class Query:
    """Which alerts `AlertStore.search` returns: every criterion given must hold.

    `hash` is a media hash an alert's evidence holds (the bank's or the post's, any case);
    `verdict` a verdict or `undecided`; `domain` the host of the post's URL or of a domain
    piece of evidence, or a domain above it (`example.org` finds `www.example.org`);
    `fingerprint` what a reappearance alert matched (a learned key such as `text/…`, a PDQ
    hash) or the original post's id. Results are newest first, at most `limit`;
    `undecided_first` puts undecided alerts before the others (the review queue)."""

    author: str | None = None
    rule: str | None = None
    hash: str | None = None
    verdict: Verdict | Literal["undecided"] | None = None
    since: datetime | None = None
    min_severity: Severity | None = None
    source: str | None = None
    kind: str | None = None
    domain: str | None = None
    fingerprint: str | None = None
    limit: int = 100
    undecided_first: bool = False


@dataclass(frozen=True, slots=True)
class Stored:
    """An alert as the store holds it: its verdict (None: undecided) and every decision on it,
    notes included, oldest first."""

    alert: Alert
    verdict: Verdict | None
    decisions: tuple[Decision, ...]

    def document(self) -> dict[str, Any]:
        """The Alert v1 JSON object with `verdict` added (null: undecided)."""
        document: dict[str, Any] = msgspec.to_builtins(self.alert)
        document["verdict"] = self.verdict
        return document


@dataclass(frozen=True, slots=True)
class RuleStats:
    """How one rule did (`entry` None), or one bank entry of a rule (`entry`: `bank/hash`, the
    hash as the bank holds it), over the alerts since a moment (summaries aside).

    `per_day` divides the alerts by the days from the moment (or the store's first alert) to
    the store's latest alert, one day at least, the same for every rule; `decided` counts
    the alerts confirmed or found false positives, `precision` is confirmed ÷ decided (None
    when none is)."""

    rule: str
    entry: str | None
    alerts: int
    per_day: float
    confirmed: int
    false_positives: int
    escalated: int

    @property
    def decided(self) -> int:
        return self.confirmed + self.false_positives

    @property
    def decided_share(self) -> float:
        return self.decided / self.alerts if self.alerts else 0.0

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.decided if self.decided else None


def _marks(count: int) -> str:
    """The placeholders of an `IN` list of `count` values: `(?,?,?)`."""
    return f"({','.join('?' * count)})"


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _detected(alert: Alert) -> int:
    """When the alert was raised, in milliseconds; alerts are made with a UTC time, but a
    time without an offset is taken as UTC too."""
    moment = datetime.fromisoformat(alert.detected_at)
    return _millis(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@lru_cache(maxsize=65_536)  # most alerts come from a few hosts
def _domains(host: str | None) -> tuple[str, ...]:
    """The host and each domain above it that has two labels or more."""
    labels = (host or "").lower().rstrip(".").split(".")
    return tuple(".".join(labels[i:]) for i in range(len(labels) - 1) if labels[i])


_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]/]*\]|[^/?#:@]*)")
"""The host of an absolute URL (what `urlsplit` finds, at a fifth of its cost)."""


def _host(url: str | None) -> str | None:
    found = _HOST.match(url or "")
    return found[1] if found else None


def _terms(alert: Alert) -> Iterator[tuple[int, str]]:
    """What an alert is found by besides its columns: media hashes, domains, what a
    reappearance matched, and the bank entries that matched (for rule quality)."""
    yield from ((_DOMAIN, d) for d in _domains(_host(alert.post.url)))
    for e in alert.evidence:
        if e.type in HASH_TYPES:
            yield from ((_HASH, h.lower()) for h in (e.value, e.matched) if h)
            if e.bank and alert.kind == "rule":
                yield _ENTRY, f"{e.bank}/{e.value.lower()}"
        if e.type == "domain":
            yield from ((_DOMAIN, d) for d in _domains(e.value))
            yield from ((_DOMAIN, d) for d in _domains(_host(e.matched)))
        if e.original_post_id:
            yield _FINGERPRINT, e.original_post_id
        if alert.kind == "reappearance":
            yield _FINGERPRINT, e.value


def select(query: Query) -> tuple[str, list[object]]:
    """The SQL of a search, and its values: the alert id, verdict and body of each alert
    found, in order. With a hash, domain or fingerprint, the first of them leads: its terms
    are in time order, so the newest alerts come first without a sort of every alert it
    matches."""
    if query.limit < 1:
        raise StoreError(f"a search's limit is a whole number from 1: {query.limit}")
    clauses: list[str] = []
    values: list[object] = []
    for column, value in (
        ("author", query.author),
        ("rule", query.rule),
        ("source", query.source),
        ("kind", query.kind),
    ):
        if value is not None:
            clauses.append(f"alerts.{column} = ?")
            values.append(value)
    if query.verdict == UNDECIDED:
        clauses.append("alerts.verdict IS NULL")
    elif query.verdict == "note":
        raise StoreError(
            "a note is no verdict: search for confirm, false_positive, escalate or undecided"
        )
    elif query.verdict is not None:
        if query.verdict not in get_args(Verdict):
            raise StoreError(f"not a verdict: {query.verdict!r}")
        clauses.append("alerts.verdict = ?")
        values.append(query.verdict)
    if query.since is not None:
        clauses.append("alerts.detected >= ?")
        values.append(_millis(query.since))
    if query.min_severity is not None:
        clauses.append("alerts.severity >= ?")
        values.append(query.min_severity.value)
    terms = [
        (kind, term)
        for kind, term in (
            (_HASH, query.hash and query.hash.strip().lower()),
            (_DOMAIN, query.domain and query.domain.strip().lower().rstrip(".")),
            (_FINGERPRINT, query.fingerprint),
        )
        if term is not None
    ]
    queue = query.undecided_first and query.verdict is None  # else all alike in that
    lead = terms[:1] if terms and not queue else []
    for kind, term in terms[len(lead) :]:
        clauses.append("alerts.id IN (SELECT alert FROM terms WHERE kind = ? AND value = ?)")
        values.extend((kind, term))
    columns = "SELECT alerts.alert_id, alerts.verdict, alerts.body"
    if lead:
        sql = (
            f"{columns} FROM terms JOIN alerts ON alerts.id = terms.alert"
            " WHERE terms.kind = ? AND terms.value = ?"
            + "".join(f" AND {clause}" for clause in clauses)
            + " ORDER BY terms.detected DESC, terms.alert DESC LIMIT ?"
        )
        return sql, [*lead[0], *values, query.limit]
    order = "alerts.verdict IS NULL DESC, alerts.detected DESC" if queue else "alerts.detected DESC"
    sql = (
        f"{columns} FROM alerts WHERE {' AND '.join(clauses) or '1'}"
        f" ORDER BY {order}, alerts.id DESC LIMIT ?"
    )
    return sql, [*values, query.limit]


_DECISION = msgspec.json.Decoder(Decision)


class AlertStore:
    """Alerts and decisions in SQLite, at `path` (`:memory:`, the default, or a file, which
    keeps memory low for millions of alerts). What a file held before is dropped: the store
    is rebuilt from the topics each time. A file is locked for this store alone until it is
    closed: another process that names it gets a StoreError."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=0
            )
            # a cache rebuilt on every start: nothing to keep safe from a crash; and one
            # process's alone, which another could otherwise drop and rebuild under it
            self._db.executescript(
                "PRAGMA locking_mode = EXCLUSIVE;"
                "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;"
                "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;"
                + "".join(f"DROP TABLE IF EXISTS {t};" for t in _TABLES)
                + _SCHEMA
            )
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise StoreError(f"cannot use {self.path} as the alert store: {exc}") from exc
            raise StoreError(
                f"the alert store {self.path} is in use by another process: give each its own"
                " (POSTWATCH_STORE_PATH), or leave it empty for a store in memory"
            ) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use {self.path} as the alert store: {exc}") from exc
        self._lock = threading.Lock()
        self._next_id = 1
        self._indexed = False

    def index(self) -> None:
        """Build the indexes of searches now, after a first load (`follow` does, before it
        says it is ready); else the first search builds them. Later alerts keep them up to
        date."""
        with self._lock:
            self._index()

    def _index(self) -> None:
        if not self._indexed:
            self._db.executescript(_INDEXES)
            self._indexed = True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def count(self) -> int:
        """Alerts held."""
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM alerts").fetchone()
        return int(n)

    def add(self, alerts: Sequence[Alert]) -> None:
        """Keep these alerts; one already held (same `alert_id`) is left as it is. An alert
        with decisions already held takes the latest verdict among them."""
        with self._lock, self._transaction():
            for start in range(0, len(alerts), _CHUNK):
                self._add(alerts[start : start + _CHUNK])

    def _add(self, alerts: Sequence[Alert]) -> None:
        fresh = {a.alert_id: a for a in alerts}
        held = self._db.execute(
            f"SELECT alert_id FROM alerts WHERE alert_id IN {_marks(len(fresh))}",  # noqa: S608
            list(fresh),
        )
        for (alert_id,) in held:
            del fresh[alert_id]
        if not fresh:
            return
        verdicts = dict(
            self._db.execute(
                "SELECT alert_id, verdict FROM decisions"  # noqa: S608 - placeholders only
                f" WHERE verdict != 'note' AND alert_id IN {_marks(len(fresh))} ORDER BY seq",
                list(fresh),
            ).fetchall()
        )
        rows: list[tuple[object, ...]] = []
        terms: list[tuple[int, str, int, int]] = []
        for number, alert in enumerate(fresh.values(), self._next_id):
            post, rule, detected = alert.post, alert.rule, _detected(alert)
            rows.append(
                (
                    number,
                    alert.alert_id,
                    detected,
                    alert.kind,
                    rule.id,
                    Severity[rule.severity.upper()].value,
                    post.source,
                    post.author.id,
                    verdicts.get(alert.alert_id),
                    encode(alert),
                )
            )
            terms.extend((kind, value, detected, number) for kind, value in set(_terms(alert)))
        self._next_id += len(rows)
        self._db.executemany("INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        self._db.executemany("INSERT INTO terms VALUES (?,?,?,?)", terms)

    def decide(self, decisions: Sequence[Decision]) -> None:
        """Append these decisions, in the order given (topic order); one already held (same
        `decision_id`) is skipped. Each that is no note becomes its alert's verdict."""
        with self._lock, self._transaction():
            for d in decisions:
                added = self._db.execute(
                    "INSERT OR IGNORE INTO decisions (decision_id, alert_id, verdict, body)"
                    " VALUES (?,?,?,?)",
                    (d.decision_id, d.alert_id, d.verdict, d.encode()),
                ).rowcount
                if added and d.verdict != "note":
                    self._db.execute(
                        "UPDATE alerts SET verdict = ? WHERE alert_id = ?", (d.verdict, d.alert_id)
                    )

    def get(self, alert_id: str) -> Stored | None:
        """The alert of this id, or None."""
        with self._lock:
            rows = self._db.execute(
                "SELECT alert_id, verdict, body FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchall()
            found = self._stored(rows)
        return found[0] if found else None

    def search(self, query: Query) -> list[Stored]:
        """The alerts that meet the query, newest first (undecided ones first when asked)."""
        sql, values = select(query)
        with self._lock:
            self._index()
            return self._stored(self._db.execute(sql, values).fetchall())

    def _stored(self, rows: list[tuple[str, str | None, bytes]]) -> list[Stored]:
        """The Stored of each row (alert id, verdict, body), with their decisions."""
        decisions: dict[str, list[Decision]] = {}
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for alert_id, body in self._db.execute(
                f"SELECT alert_id, body FROM decisions WHERE alert_id IN {_marks(len(chunk))}"  # noqa: S608
                " ORDER BY seq",
                chunk,
            ):
                decisions.setdefault(alert_id, []).append(_DECISION.decode(body))
        return [
            Stored(decode_alert(body), verdict, tuple(decisions.get(alert_id, ())))  # type: ignore[arg-type]
            for alert_id, verdict, body in rows
        ]

    def rule_stats(self, since: datetime | None = None) -> list[RuleStats]:
        """How each rule did, and each bank entry that matched for it, over the alerts since
        `since` (all when None), summaries aside: by rule, each rule's row first."""
        start = _millis(since) if since else None
        with self._lock:
            self._index()
            first, last = self._db.execute(
                "SELECT min(detected), max(detected) FROM alerts WHERE kind != 'summary'"
                " AND detected >= ?",
                (start or 0,),
            ).fetchone()
            if first is None:
                return []
            days = max(1.0, (last - (start if start is not None else first)) / 86_400_000)
            counts = ", ".join(
                f"count(*) FILTER (WHERE verdict = '{v}')"
                for v in ("confirm", "false_positive", "escalate")
            )
            rules = self._db.execute(
                f"SELECT rule, NULL, count(*), {counts} FROM alerts"  # noqa: S608 - our SQL only
                " WHERE kind != 'summary' AND detected >= ? GROUP BY rule",
                (start or 0,),
            ).fetchall()
            entries = self._db.execute(
                f"SELECT rule, terms.value, count(*), {counts}"  # noqa: S608 - our SQL only
                " FROM terms JOIN alerts ON alerts.id = alert"
                " WHERE terms.kind = ? AND alerts.kind != 'summary' AND alerts.detected >= ?"
                " GROUP BY rule, terms.value",
                (_ENTRY, start or 0),
            ).fetchall()
        return [
            RuleStats(rule, entry, n, n / days, confirmed, false, escalated)
            for rule, entry, n, confirmed, false, escalated in sorted(
                rules + entries, key=lambda row: (row[0], row[1] is not None, row[1] or "")
            )
        ]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN … COMMIT, or ROLLBACK on an error (the connection is in autocommit mode, so that
    reads take no lock they keep)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


async def follow(
    settings: Settings,
    store: AlertStore,
    ready: asyncio.Event | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Read the alerts topic (every partition) and the decisions topic from the beginning
    into the store; set `ready` once what the topics held at the start is in, then go on
    with what comes until cancelled. A record that is no Alert v1 or decision is counted
    (`follow.skipped` in the log) and skipped. `progress` is told the records read so far.
    Raises MissingTopic when there is no alerts topic (a wrong prefix, no worker yet)."""
    alerts_topic, decisions_topic = settings.topic(ALERTS), settings.topic(DECISIONS)
    if not await partitions_of(settings, alerts_topic):
        raise MissingTopic.of(alerts_topic, settings.kafka_bootstrap)
    counts = await ensure_topics(settings, live=True)  # the decisions topic, if none decided yet
    partitions = [
        TopicPartition(topic, number)
        for topic in (alerts_topic, decisions_topic)
        for number in range(counts[topic])
    ]
    consumer = new_consumer(settings, auto_offset_reset="earliest", max_poll_records=_BATCH)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        behind = set(partitions)
        read = skipped = 0
        while True:
            if behind:
                behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
                if not behind:
                    store.index()
                    log.info("follow.ready", alerts=store.count, read=read, skipped=skipped)
                    if ready is not None:
                        ready.set()
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                values = [r.value or b"" for r in records]
                bad = _take(store, values) if tp.topic == alerts_topic else _decide(store, values)
                if bad:
                    skipped += bad
                    log.warning(
                        "follow.skipped",
                        topic=tp.topic,
                        partition=tp.partition,
                        records=bad,
                        skipped=skipped,
                    )
                read += len(records)
            if progress is not None and batches:
                progress(read)
    finally:
        await consumer.stop()


async def rebuilt(settings: Settings, progress: Callable[[int], None] | None = None) -> AlertStore:
    """A store (at `settings.store_path`, else in memory) holding what the alerts and
    decisions topics hold now: for commands that answer once. Raises MissingTopic."""
    store = AlertStore(settings.store_path or ":memory:")
    ready = asyncio.Event()
    following = asyncio.create_task(follow(settings, store, ready, progress=progress))
    waiting = asyncio.create_task(ready.wait())
    try:
        await asyncio.wait({following, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if following.done():
            following.result()  # follow ends only by an error: raise it
    except BaseException:
        store.close()
        raise
    finally:
        waiting.cancel()
        following.cancel()
        await asyncio.gather(following, waiting, return_exceptions=True)
    return store


def _decoded(values: Iterable[bytes], decode: Callable[[bytes], _T]) -> tuple[list[_T], int]:
    """What decodes of `values`, and how many did not."""
    good: list[_T] = []
    bad = 0
    for value in values:
        try:
            good.append(decode(value))
        except msgspec.DecodeError:  # ValidationError too
            bad += 1
    return good, bad


def _take(store: AlertStore, values: list[bytes]) -> int:
    alerts, bad = _decoded(values, decode_alert)
    store.add(alerts)
    return bad


def _decide(store: AlertStore, values: list[bytes]) -> int:
    decisions, bad = _decoded(values, Decision.decode)
    store.decide(decisions)
    return bad
