"""The alert store's engine, measured: SQLite (the store, `postwatch/alerts/store.py`) against
DuckDB doing the same work with the same tables, on a million alerts.

    pip install duckdb                 # only for this comparison
    python benchmarks/store_bench.py [--alerts 1000000] [--broker]

Builds ALERTS Alert v1 records as workers raise them over 90 days: 50,000 authors (a few
very busy), 300 rules (a few firing most), six sources; kinds rule (88 %), reappearance
(6 %), summary (3 %), look-alike account (2 %), escalation (1 %); a rule alert's evidence is
a keyword (60 %), a media hash from a bank of 20,000 SHA-256 and 5,000 PDQ hashes (20 %) or a
domain from 2,000 (20 %). One alert in twenty is decided (confirm, false positive, escalate
or a note), one in ten of those twice.

Each engine runs in a process of its own, in memory and in a file, tuned as well as each
allows: SQLite with the store's indexes and pragmas (journal in memory, no syncs: a cache)
and batches of 2,000 alerts in one transaction; DuckDB with its appender (2,000 rows a
flush), a unique index on the alert id (what keeps a redelivered alert once) and no other
index (its scans with zone maps are its strength). Measured: ingest (alerts/s, decode to
stored, the alerts' JSON encoded by the store), decisions, each query's median of five runs
(a get, the median of 1,000), rule quality, the file's size, and the process's peak memory
above that of a process that only builds the alerts.

`--broker` then produces the alerts and decisions to a throwaway prefix's topics on the local
broker (4 partitions) and times `postwatch.alerts.store.rebuilt` over them (what `alerts
search` does before it answers), in memory and in a file, against a bare read of the same
records; the topics are deleted after.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec

from postwatch.alerts.store import (  # the store's own rows, for DuckDB to hold the same
    _ENTRY,
    UNDECIDED,
    AlertStore,
    Query,
    RuleStats,
    Stored,
    _detected,
    _millis,
    _terms,
    rebuilt,
    select,
)
from postwatch.kafka.clients import TopicPartition, new_admin, new_consumer, new_producer, send_all
from postwatch.kafka.topics import ALERTS, DECISIONS, ensure_topics
from postwatch.rules import Severity
from postwatch.rules.alerts import Alert, AlertAuthor, AlertPost, AlertRule, alert_id, encode
from postwatch.rules.alerts import decode as decode_alert
from postwatch.rules.decisions import Decision, Verdict
from postwatch.rules.language.model import Evidence
from postwatch.settings import Settings

T0 = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 90
BATCH = 2000
SOURCES = [
    ("mastodon", 35),
    ("bluesky", 30),
    ("x", 15),
    ("telegram", 10),
    ("rss", 7),
    ("webhook", 3),
]
KINDS = [
    ("rule", 88),
    ("reappearance", 6),
    ("summary", 3),
    ("lookalike_account", 2),
    ("escalation", 1),
]
WORDS = [
    "the",
    "front",
    "brigade",
    "join",
    "support",
    "stand",
    "with",
    "now",
    "today",
    "video",
    "watch",
    "share",
    "call",
    "all",
    "brothers",
    "sisters",
    "city",
    "march",
    "rally",
    "news",
    "report",
    "statement",
    "official",
    "channel",
    "new",
    "link",
]
SEVERITIES = ("info", "low", "medium", "high", "critical")


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in table], [weight for _, weight in table])[0]


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


@dataclass(frozen=True)
class Pools:
    """What alerts are drawn from: bank hashes, PDQ hashes, domains, learned keys."""

    sha256: list[str]
    pdq: list[str]
    domains: list[str]
    learned: list[str]

    @classmethod
    def make(cls, seed: int) -> Pools:
        rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
        return cls(
            [_hex(rng, 64) for _ in range(20_000)],
            [_hex(rng, 64) for _ in range(5_000)],
            [f"site{n}.example.org" if n % 3 else f"news{n}.example" for n in range(2_000)],
            ["text/" + _hex(rng, 32) for _ in range(30_000)],
        )


def _skewed(rng: random.Random, size: int, power: float) -> int:
    """An index below `size`, low ones far likelier (a few busy authors, rules, hashes)."""
    return int(size * rng.random() ** power)


def make_batches(count: int, seed: int = 7) -> Iterator[tuple[list[Alert], list[Decision]]]:
    """The alerts in batches of BATCH, and the decisions on each batch's alerts."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    pools = Pools.make(seed)
    step = timedelta(days=DAYS) / count
    alerts: list[Alert] = []
    decisions: list[Decision] = []
    for n in range(count):
        alert = _alert(rng, pools, n, T0 + step * n)
        alerts.append(alert)
        if n % 20 == 0:
            decisions.extend(_decisions(rng, alert, T0 + step * n + timedelta(hours=2)))
        if len(alerts) == BATCH:
            yield alerts, decisions
            alerts, decisions = [], []
    if alerts:
        yield alerts, decisions


def _alert(rng: random.Random, pools: Pools, n: int, at: datetime) -> Alert:
    source = _pick(rng, SOURCES)
    kind = _pick(rng, KINDS)
    author = f"{source}:user{_skewed(rng, 50_000, 3)}"
    rule_n = _skewed(rng, 300, 2)
    text = " ".join(rng.choices(WORDS, k=rng.randint(8, 30)))
    post_id = f"{source}:{n}"
    evidence: list[Evidence]
    if kind == "reappearance":
        key = pools.learned[_skewed(rng, len(pools.learned), 2)]
        rule_id, severity = f"reappearance/{key}", "high"
        original = f"mastodon:{rng.randrange(n + 1)}"
        evidence = [Evidence("text", "text", key, similarity=0.7, original_post_id=original)]
    elif kind in ("lookalike_account", "escalation"):
        rule_id, severity = f"{kind}/watched{rng.randrange(300)}", "high"
        evidence = [Evidence("alert", "author.id", _hex(rng, 32))]
    else:
        rule_id, severity = f"pw-{rule_n:04d}", SEVERITIES[rule_n % 5]
        draw = rng.random()
        if draw < 0.6:
            word = rng.choice(WORDS)
            start = text.find(word)
            evidence = [Evidence("keyword", "text", word, (start, start + len(word)))]
        elif draw < 0.7:
            value = pools.sha256[_skewed(rng, len(pools.sha256), 2)]
            evidence = [Evidence("sha256", "media[0]", value, matched=value, bank="known-media")]
        elif draw < 0.8:
            value = pools.pdq[_skewed(rng, len(pools.pdq), 2)]
            evidence = [
                Evidence(
                    "pdq",
                    "media[0]",
                    value,
                    matched=_hex(rng, 64),
                    bank="known-pdq",
                    distance=rng.randrange(32),
                )
            ]
        else:
            domain = pools.domains[_skewed(rng, len(pools.domains), 2)]
            evidence = [Evidence("domain", "links[0]", domain, None, f"https://www.{domain}/a/{n}")]
    alert = Alert(
        alert_id=alert_id(rule_id, 1, post_id, "rule" if kind == "summary" else kind),
        kind="rule" if kind == "summary" else kind,  # type: ignore[arg-type]  # one of the kinds
        detected_at=at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        rule=AlertRule(
            id=rule_id,
            version=1,
            pack="bench",
            title=f"Rule {rule_id}",
            severity=severity,
            tags=("bench",),
        ),  # type: ignore[arg-type]
        post=AlertPost(
            id=post_id,
            source=source,
            url=f"https://{source}.example/@{author.split(':', 1)[1]}/{n}",
            created_at=(at - timedelta(seconds=5)).isoformat().replace("+00:00", "Z"),
            author=AlertAuthor(id=author, handle=author.split(":", 1)[1]),
            excerpt=text,
        ),
        evidence=tuple(evidence),
        shadow=False,
    )
    if kind == "summary":
        return alert.summary(
            suppressed_count=3,
            suppressed_post_ids=[post_id],
            window_start=at,
            window_end=at,
            detected_at=at,
        )
    return alert


def _decisions(rng: random.Random, alert: Alert, at: datetime) -> list[Decision]:
    verdicts: list[Verdict] = ["confirm", "false_positive", "escalate", "note"]
    first = rng.choices(verdicts, [50, 30, 10, 10])[0]
    made = [Decision.of(alert, first, f"reviewer{rng.randrange(12)}", "checked", at)]
    if rng.random() < 0.1:
        second = rng.choices(verdicts, [40, 40, 10, 10])[0]
        made.append(Decision.of(alert, second, "lead", "second look", at + timedelta(hours=1)))
    return made


class Engine(Protocol):
    def add(self, alerts: Sequence[Alert]) -> None: ...
    def decide(self, decisions: Sequence[Decision]) -> None: ...
    def get(self, alert_id: str) -> Stored | None: ...
    def search(self, query: Query) -> list[Stored]: ...
    def rule_stats(self, since: datetime | None = None) -> list[RuleStats]: ...
    def index(self) -> None: ...
    def close(self) -> None: ...


_DUCK_SCHEMA = """
CREATE TABLE alerts (
    id BIGINT NOT NULL, alert_id VARCHAR NOT NULL UNIQUE, detected BIGINT NOT NULL,
    kind VARCHAR NOT NULL, rule VARCHAR NOT NULL, severity INTEGER NOT NULL,
    source VARCHAR NOT NULL, author VARCHAR NOT NULL, verdict VARCHAR, body BLOB NOT NULL
);
CREATE TABLE terms (
    kind INTEGER NOT NULL, value VARCHAR NOT NULL, detected BIGINT NOT NULL, alert BIGINT NOT NULL
);
CREATE TABLE decisions (
    seq BIGINT NOT NULL, decision_id VARCHAR NOT NULL UNIQUE, alert_id VARCHAR NOT NULL,
    verdict VARCHAR NOT NULL, body BLOB NOT NULL
);
"""
_DECISION = msgspec.json.Decoder(Decision)


class DuckStore:
    """The store's tables and statements on DuckDB (where its SQL differs, DuckDB's own)."""

    def __init__(self, path: str) -> None:
        import duckdb  # noqa: PLC0415 - only this comparison needs it

        self.db = duckdb.connect(path)
        self.db.execute(_DUCK_SCHEMA)
        self.next_id = 1
        self.seq = 1

    def add(self, alerts: Sequence[Alert]) -> None:
        fresh = {a.alert_id: a for a in alerts}
        held = self.db.execute(
            "SELECT alert_id FROM alerts WHERE alert_id IN (SELECT unnest(?))", [list(fresh)]
        ).fetchall()
        for (alert_id_,) in held:
            del fresh[alert_id_]
        if not fresh:
            return
        verdicts = dict(
            self.db.execute(
                "SELECT alert_id, verdict FROM decisions WHERE verdict != 'note'"
                " AND alert_id IN (SELECT unnest(?)) ORDER BY seq",
                [list(fresh)],
            ).fetchall()
        )
        rows, terms = [], []
        for number, alert in enumerate(fresh.values(), self.next_id):
            detected = _detected(alert)
            rows.append(
                (
                    number,
                    alert.alert_id,
                    detected,
                    alert.kind,
                    alert.rule.id,
                    Severity[alert.rule.severity.upper()].value,
                    alert.post.source,
                    alert.post.author.id,
                    verdicts.get(alert.alert_id),
                    encode(alert),
                )
            )
            terms.extend((kind, value, detected, number) for kind, value in set(_terms(alert)))
        self.next_id += len(rows)
        for table, values in (("alerts", rows), ("terms", terms)):
            with self.db.appender(table) as appender:
                appender.append_rows(values)
                appender.flush()

    def decide(self, decisions: Sequence[Decision]) -> None:
        ids = [d.decision_id for d in decisions]
        held = {
            row[0]
            for row in self.db.execute(
                "SELECT decision_id FROM decisions WHERE decision_id IN (SELECT unnest(?))", [ids]
            ).fetchall()
        }
        rows, latest = [], {}
        for d in decisions:
            if d.decision_id in held:
                continue
            held.add(d.decision_id)
            rows.append((self.seq, d.decision_id, d.alert_id, d.verdict, d.encode()))
            self.seq += 1
            if d.verdict != "note":
                latest[d.alert_id] = d.verdict
        with self.db.appender("decisions") as appender:
            appender.append_rows(rows)
            appender.flush()
        if latest:
            self.db.execute(
                "UPDATE alerts SET verdict = v.verdict FROM (SELECT unnest(?) AS alert_id,"
                " unnest(?) AS verdict) AS v WHERE alerts.alert_id = v.alert_id",
                [list(latest), list(latest.values())],
            )

    def get(self, alert_id_: str) -> Stored | None:
        rows = self.db.execute(
            "SELECT alert_id, verdict, body FROM alerts WHERE alert_id = ?", [alert_id_]
        ).fetchall()
        found = self._stored(rows)
        return found[0] if found else None

    def search(self, query: Query) -> list[Stored]:
        sql, values = select(query)
        return self._stored(self.db.execute(sql, values).fetchall())

    def _stored(self, rows: list[tuple[str, Any, bytes]]) -> list[Stored]:
        decisions: dict[str, list[Decision]] = {}
        if rows:
            for alert_id_, body in self.db.execute(
                "SELECT alert_id, body FROM decisions WHERE alert_id IN (SELECT unnest(?))"
                " ORDER BY seq",
                [[row[0] for row in rows]],
            ).fetchall():
                decisions.setdefault(alert_id_, []).append(_DECISION.decode(body))
        return [
            Stored(decode_alert(body), verdict, tuple(decisions.get(a, ())))
            for a, verdict, body in rows
        ]

    def rule_stats(self, since: datetime | None = None) -> list[RuleStats]:
        start = _millis(since) if since else 0
        first, last = self.db.execute(
            "SELECT min(detected), max(detected) FROM alerts WHERE kind != 'summary'"
            " AND detected >= ?",
            [start],
        ).fetchone()  # type: ignore[misc]
        if first is None:
            return []
        days = max(1.0, (last - (start or first)) / 86_400_000)
        counts = ", ".join(
            f"count(*) FILTER (WHERE verdict = '{v}')"
            for v in ("confirm", "false_positive", "escalate")
        )
        rules = self.db.execute(
            f"SELECT rule, NULL, count(*), {counts} FROM alerts"  # noqa: S608
            " WHERE kind != 'summary' AND detected >= ? GROUP BY rule",
            [start],
        ).fetchall()
        entries = self.db.execute(
            f"SELECT rule, terms.value, count(*), {counts}"  # noqa: S608
            " FROM terms JOIN alerts ON alerts.id = alert"
            " WHERE terms.kind = ? AND alerts.kind != 'summary' AND alerts.detected >= ?"
            " GROUP BY rule, terms.value",
            [_ENTRY, start],
        ).fetchall()
        return [
            RuleStats(rule, entry, n, n / days, c, f, e)
            for rule, entry, n, c, f, e in sorted(
                rules + entries, key=lambda row: (row[0], row[1] is not None, row[1] or "")
            )
        ]

    def index(self) -> None:
        """Nothing: DuckDB keeps no index but the alert id's, which the load needs."""

    def close(self) -> None:
        self.db.close()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_ms(run: Callable[[], object], times: int = 5) -> float:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        spent.append(time.perf_counter() - start)
    return statistics.median(spent) * 1000


def _queries() -> dict[str, Query]:
    """The searches timed, with values the generated alerts hold (busy and rare ones)."""
    pools = Pools.make(7)
    end = T0 + timedelta(days=DAYS)
    return {
        "author, busiest (limit 100)": Query(author="mastodon:user0"),
        "author, a rare one": Query(author="bluesky:user40000"),
        "rule (limit 100)": Query(rule="pw-0150"),
        "media hash, a busy one": Query(hash=pools.sha256[0]),
        "media hash, a rare one": Query(hash=pools.sha256[15_000]),
        "domain": Query(domain="example.org"),
        "fingerprint": Query(fingerprint=pools.learned[0]),
        "verdict confirm": Query(verdict="confirm"),
        "review queue (undecided first)": Query(undecided_first=True, verdict=UNDECIDED),
        "review queue, critical": Query(undecided_first=True, min_severity=Severity.CRITICAL),
        "last day, high and above": Query(
            since=end - timedelta(days=1), min_severity=Severity.HIGH
        ),
        "source + kind reappearance": Query(source="telegram", kind="reappearance"),
        "author + verdict (none match)": Query(author="rss:user3", verdict="escalate"),
    }


def _load(store: Engine | None, count: int) -> tuple[float, float, list[str]]:
    """Load the alerts and decisions (only build them with no store): the seconds adding
    alerts and decisions took, and ids of alerts to get."""
    add_s = decide_s = 0.0
    ids: list[str] = []
    rng = random.Random(3)  # noqa: S311 - which alerts to get, not a secret
    for alerts, decisions in make_batches(count):
        if rng.random() < 0.5:
            ids.append(rng.choice(alerts).alert_id)
        if store is None:
            continue
        start = time.perf_counter()
        store.add(alerts)
        add_s += time.perf_counter() - start
        start = time.perf_counter()
        store.decide(decisions)
        decide_s += time.perf_counter() - start
    return add_s, decide_s, ids


def measure(engine_name: str, count: int, folder: str, queue: Any) -> None:
    """One engine's figures, put on `queue` as a dict (run in a process of its own)."""
    path = ":memory:" if engine_name.endswith("memory") else f"{folder}/{engine_name}.db"
    store: Engine
    if engine_name == "generate only":
        store = None  # type: ignore[assignment]
    elif engine_name.startswith("sqlite"):
        store = AlertStore(path)
    else:
        store = DuckStore(path)
    add_s, decide_s, ids = _load(store, count)
    figures: dict[str, Any] = {"engine": engine_name, "peak_mb": _peak_mb()}
    if store is None:
        queue.put(figures)
        return
    start = time.perf_counter()
    store.index()  # the store's indexes of searches, made once the load is in
    figures["index_s"] = time.perf_counter() - start
    figures["ingest_s"] = add_s + figures["index_s"]
    figures["decide_s"] = decide_s
    again = next(make_batches(BATCH))[0]
    start = time.perf_counter()
    store.add(again)  # a redelivered batch: kept once
    figures["redelivered batch ms"] = (time.perf_counter() - start) * 1000
    gets = ids[:1000]
    spent = []
    for one in gets:
        start = time.perf_counter()
        assert store.get(one) is not None
        spent.append(time.perf_counter() - start)
    figures["get by id"] = statistics.median(spent) * 1000
    results = {}
    for name, query in _queries().items():
        figures[name] = _median_ms(lambda q=query: store.search(q))  # type: ignore[misc]
        results[name] = [s.alert.alert_id for s in store.search(query)]
    figures["rule quality, all"] = _median_ms(store.rule_stats, 3)
    week = T0 + timedelta(days=DAYS - 7)
    figures["rule quality, last 7 days"] = _median_ms(lambda: store.rule_stats(week), 3)
    figures["rows"] = len(store.rule_stats())
    figures["answers"] = results
    store.close()
    figures["peak_mb"] = _peak_mb()
    if path != ":memory:":
        figures["file_mb"] = (
            sum(f.stat().st_size for f in Path(folder).glob(f"{engine_name}.db*")) / 1e6
        )
    queue.put(figures)


def run_engines(count: int, engines: list[str]) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("fork")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name in ["generate only", *engines]:
            queue = context.Queue()
            process = context.Process(target=measure, args=(name, count, folder, queue))
            process.start()
            results.append(queue.get())
            process.join()
            print(f"  measured {name}", flush=True)
    return results


def print_table(results: list[dict[str, Any]], count: int) -> None:
    base = results[0]["peak_mb"]
    engines = results[1:]
    width = 34
    print(
        f"\n{count:,} alerts; peak memory above a process that only builds them ({base:.0f} MB)\n"
    )
    print("| what | " + " | ".join(r["engine"] for r in engines) + " |")
    print("|---|" + "---:|" * len(engines))
    rows = [
        ("ingest, alerts/s", lambda r: f"{count / r['ingest_s']:,.0f}"),
        (
            "ingest, s (of which indexes built after)",
            lambda r: f"{r['ingest_s']:.1f} ({r['index_s']:.1f})",
        ),
        ("decisions, s", lambda r: f"{r['decide_s']:.1f}"),
        ("redelivered batch of 2,000, ms", lambda r: f"{r['redelivered batch ms']:.1f}"),
        ("get by id, ms", lambda r: f"{r['get by id']:.3f}"),
    ]
    rows += [(f"{name}, ms", lambda r, n=name: f"{r[n]:.1f}") for name in _queries()]
    rows += [
        ("rule quality, all, ms", lambda r: f"{r['rule quality, all']:.0f}"),
        ("rule quality, last 7 days, ms", lambda r: f"{r['rule quality, last 7 days']:.0f}"),
        ("file, MB", lambda r: f"{r['file_mb']:.0f}" if "file_mb" in r else "-"),
        ("peak memory above, MB", lambda r: f"{r['peak_mb'] - base:.0f}"),
    ]
    for label, shown in rows:
        print(f"| {label:<{width}} | " + " | ".join(shown(r) for r in engines) + " |")
    same = all(r["answers"] == engines[0]["answers"] for r in engines)
    print(f"\nevery engine gave the same answers: {same}")


async def broker_rebuild(count: int) -> None:
    """Produce the alerts and decisions to throwaway topics; time the rebuild from them."""
    prefix = f"bench-store-{uuid.uuid4().hex[:8]}"
    settings = replace(Settings.from_env(), topic_prefix=prefix, posts_partitions=4)
    await ensure_topics(settings, live=True)
    try:
        producer = new_producer(settings, linger_ms=20, max_batch_size=512 * 1024)
        await producer.start()
        start = time.perf_counter()
        decided = 0
        try:
            for alerts, decisions in make_batches(count):
                await send_all(
                    producer,
                    settings.topic(ALERTS),
                    [(a.alert_id.encode(), encode(a)) for a in alerts],
                )
                await send_all(
                    producer,
                    settings.topic(DECISIONS),
                    [(d.alert_id.encode(), d.encode()) for d in decisions],
                )
                decided += len(decisions)
        finally:
            await producer.stop()
        print(
            f"\nproduced {count:,} alerts and {decided:,} decisions to {prefix}.* "
            f"in {time.perf_counter() - start:.0f} s"
        )
        start = time.perf_counter()
        read = await _bare_read(settings)
        print(
            f"bare read of both topics (aiokafka, nothing decoded): {read:,} records in "
            f"{time.perf_counter() - start:.1f} s"
        )
        with tempfile.TemporaryDirectory() as folder:
            for where in ("", f"{folder}/store.db"):
                start = time.perf_counter()
                store = await rebuilt(replace(settings, store_path=where))
                spent = time.perf_counter() - start
                print(
                    f"rebuild, {'file' if where else 'memory'}: {store.count:,} alerts in "
                    f"{spent:.1f} s ({store.count / spent:,.0f} alerts/s); peak memory of "
                    f"this process so far {_peak_mb():.0f} MB"
                )
                store.close()
    finally:
        admin = new_admin(settings)
        await admin.start()
        try:
            await admin.delete_topics(
                [t for t in await admin.list_topics() if t.startswith(f"{prefix}.")]
            )
        finally:
            await admin.close()


async def _bare_read(settings: Settings) -> int:
    consumer = new_consumer(settings, auto_offset_reset="earliest", max_poll_records=2000)
    await consumer.start()
    try:
        parts = [
            TopicPartition(settings.topic(t), p)
            for t, n in ((ALERTS, settings.posts_partitions), (DECISIONS, 1))
            for p in range(n)
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        read = 0
        while any([await consumer.position(tp) < ends[tp] for tp in parts]):
            batches = await consumer.getmany(timeout_ms=500)
            read += sum(len(records) for records in batches.values())
        return read
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument(
        "--engines",
        default="sqlite-memory,sqlite-file,duckdb-memory,duckdb-file",
        help="comma separated, of sqlite-memory, sqlite-file, duckdb-memory, duckdb-file",
    )
    parser.add_argument(
        "--broker",
        action="store_true",
        help="also time the rebuild from the topics on the local broker",
    )
    parser.add_argument("--skip-engines", action="store_true", help="only the broker part")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; SQLite", __import__("sqlite3").sqlite_version, end="")
    try:
        import duckdb  # noqa: PLC0415

        print(f"; DuckDB {duckdb.__version__}")
    except ImportError:
        print("; DuckDB not installed (pip install duckdb)")
    if not args.skip_engines:
        results = run_engines(args.alerts, args.engines.split(","))
        print_table(results, args.alerts)
    if args.broker:
        asyncio.run(broker_rebuild(args.alerts))


if __name__ == "__main__":
    main()
