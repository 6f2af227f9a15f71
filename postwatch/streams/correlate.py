"""`postwatch correlate`: correlation over alerts (campaigns, successors), as a
faust-streaming app, its own consumer group.

Alerts are a stream of modest volume, and correlation is stateful, which is what faust is
for: the state lives in tables backed by changelog topics, so that a process killed at any
moment restarts where it was, and scaling out is more processes of the same app sharing the
partitions. It reads `<prefix>.alerts` and routes each alert that is evidence of a campaign
or a succession to an internal topic keyed by what it correlates (`campaign_key`,
`succession_key`), so that everything about one original post or one (account, author) pair
meets in one partition, with its table. The logic is the rules library's
(`postwatch.rules.detectors.correlation`), the same that `postwatch match` runs offline; its
alerts go back to `<prefix>.alerts`, keyed by alert id, with deterministic ids.

Processing is at least once: the offset of an alert is committed after it was handled and
what it raised was acknowledged (faust flushes its producer before every commit, so sends
are not waited for one by one); an alert handled again after a crash adds nothing (its id is
in the state already) or raises the same alert again, with the same id. Agents run with
concurrency 1 (faust-streaming #606: more loses offsets). The web server is off. Tables are
in memory, restored from their changelogs at start; `POSTWATCH_CORRELATE_STORE=rocksdb://`
keeps them on disk where `faust-streaming[rocksdb]` is installed, in the folder of
`POSTWATCH_CORRELATE_DIR` (faust's data folder: never the working directory, which need not be
writable). A record that is no alert goes to the dead-letter topic with its reason.

A pack's own thresholds and windows (its `correlation` section) hold for the accounts and
content of that pack: each process reads them from the pack files it is given and from the
packs published on the rules topic (the latest version of a pack replaces its file, as in the
workers), which it reads from the start before it correlates, then follows.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import tempfile
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import faust
import msgspec
import structlog
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.transport.drivers.aiokafka import Transport as AIOKafkaTransport

from postwatch.kafka.clients import ConsumerRecord
from postwatch.kafka.deadletter import dead_letter
from postwatch.kafka.topics import ALERTS, DEADLETTER, RULES, ensure_topics, follow
from postwatch.rules.alerts import decode, encode
from postwatch.rules.detectors.correlation import (
    Campaigns,
    Correlation,
    Successions,
    campaign_key,
    decode_state,
    encode_state,
    succession_key,
)
from postwatch.rules.language.loader import correlation_of, pack_text
from postwatch.rules.language.model import CorrelationConfig
from postwatch.rules.language.published import PublishedPack
from postwatch.settings import Settings, SettingsError

__all__ = ["CAMPAIGNS", "SUCCESSIONS", "PackConfigs", "build_app", "run_correlate"]

log = structlog.get_logger(__name__)

CAMPAIGNS = "correlate.campaigns"
"""Alerts that are evidence of a campaign, keyed by the original post they re-post."""
SUCCESSIONS = "correlate.successions"
"""Alerts that are evidence of a succession, keyed `account>author`."""


class TableStore(MutableMapping[str, Correlation]):
    """A faust table of encoded states seen as a mapping of `Correlation`s."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Correlation:
        return decode_state(self._table[key.encode()])

    def __setitem__(self, key: str, value: Correlation) -> None:
        self._table[key.encode()] = encode_state(value)

    def __delitem__(self, key: str) -> None:
        del self._table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return iter([key.decode() for key in self._table])

    def __len__(self) -> int:
        return len(self._table)


class PackConfigs:
    """The correlation config of each pack with a `correlation` section: `default` with the
    section's values, from the pack files, then from each pack published on the rules topic
    (`apply`), which replaces its file's. A published pack whose section has problems is
    passed over, logged (the workers refuse it too): the config before stays."""

    def __init__(self, default: CorrelationConfig, files: Sequence[Path] = ()) -> None:
        """Raises PackError for a file that cannot be read or has problems there."""
        self.default = default
        self.configs: dict[str, CorrelationConfig] = {}
        for path in files:
            self._set(*correlation_of(pack_text(path), str(path)))
        self.ready = asyncio.Event()
        """Set once the packs published before the start are applied."""

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            published = PublishedPack.decode(record.value or b"")
            name = f"{published.pack} version {published.version}"
            self._set(*correlation_of(published.text, name))
        except Exception as exc:  # whatever it is, it is this record's failure alone
            log.warning("pack.refused", offset=record.offset, error=str(exc)[:500])

    def _set(self, pack: str, values: Mapping[str, float]) -> None:
        if values:
            self.configs[pack] = self.default.overridden(values)
        else:
            self.configs.pop(pack, None)


class _ConsumerThread(AIOKafkaConsumerThread):
    """faust's consumer, which seeks a partition without a committed offset to its start.

    faust resumes the fetching of its partitions before it seeks them to their committed
    offsets, and drops what is fetched until its flow resumes; aiokafka does not seek a
    partition without a committed offset at all, so the records of such a partition fetched
    meanwhile were lost: after a process was killed before its first commit, the next one
    skipped the alerts routed to it since. Sought to the start, they are read again (as
    `consumer_auto_offset_reset="earliest"` means); changelogs are left to faust's recovery.
    """

    async def seek_to_committed(self) -> Mapping[Any, int]:
        return cast(Mapping[Any, int], await self.call_thread(self._seek_to_committed))

    async def _seek_to_committed(self) -> Mapping[Any, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[Any, int] = await consumer.seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        unset = [tp for tp, at in committed.items() if not at and tp.topic not in changelogs]
        if unset:
            await consumer.seek_to_beginning(*unset)
        return committed


class _Consumer(AIOKafkaConsumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(AIOKafkaTransport):
    Consumer = _Consumer


class _App(faust.App):
    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def _credentials(settings: Settings) -> Any:
    """faust's form of the connection's security settings (None: plain text)."""
    context = (
        ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
        if settings.kafka_ssl_cafile
        else None
    )
    if settings.kafka_sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if settings.kafka_security_protocol == "SSL":
        return faust.SSLCredentials(context or ssl.create_default_context())
    return None


def build_app(settings: Settings, packs: PackConfigs, *, datadir: Path) -> Any:
    """The correlate app: its agents, tables (kept in `datadir` where its store is on disk)
    and topics, and the task that follows the rules topic into `packs` (see the module)."""
    app = _App(
        f"{settings.topic_prefix}-correlate",
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        store=settings.correlate_store,
        datadir=datadir,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee="at_least_once",
        producer_acks=-1,
        topic_partitions=settings.posts_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=30.0,  # a killed process's partitions move on after this
        # topics made just before (faust's own among them) are seen, and assigned, this soon
        consumer_metadata_max_age_ms=5_000,
        table_cleanup_interval=3600.0,
    )

    def topic(name: str, *, internal: bool = False) -> Any:
        return app.topic(settings.topic(name), key_type=bytes, value_type=bytes, internal=internal)

    alerts, deadletter = topic(ALERTS), topic(DEADLETTER)
    routes = {name: topic(name, internal=True) for name in (CAMPAIGNS, SUCCESSIONS)}
    tables = {
        name: app.Table(name.replace(".", "-"), key_type=bytes, value_type=bytes)
        for name in (CAMPAIGNS, SUCCESSIONS)
    }
    checks: dict[str, Campaigns | Successions] = {
        CAMPAIGNS: Campaigns(packs.default, TableStore(tables[CAMPAIGNS]), packs.configs),
        SUCCESSIONS: Successions(packs.default, TableStore(tables[SUCCESSIONS]), packs.configs),
    }

    async def follow_packs() -> None:
        await follow(settings, settings.topic(RULES), packs.apply, packs.ready)

    app.task(follow_packs)

    @app.agent(alerts, concurrency=1)
    async def route(stream: Any) -> None:
        async for event in stream.events():
            try:
                alert = decode(event.value)
            except msgspec.DecodeError as exc:
                letter = dead_letter(event.message, "not_alert", str(exc))
                await deadletter.send(value=letter.encode())
                log.warning("correlate.dead_letter", reason="not_alert", error=str(exc)[:200])
                continue
            for name, key in (
                (CAMPAIGNS, campaign_key(alert)),
                (SUCCESSIONS, succession_key(alert)),
            ):
                if key is not None:
                    await routes[name].send(key=key.encode(), value=event.value)

    def correlate(name: str) -> Any:
        check = checks[name]

        async def agent(stream: Any) -> None:
            await packs.ready.wait()
            async for value in stream:
                for raised in check.observe(decode(value), datetime.now(UTC)):
                    await alerts.send(key=raised.alert_id.encode(), value=encode(raised))
                    log.info("correlate.alert", kind=raised.kind, alert_id=raised.alert_id)

        agent.__name__ = name.replace(".", "_")
        return app.agent(routes[name], concurrency=1)(agent)

    for name in (CAMPAIGNS, SUCCESSIONS):
        correlate(name)
    return app


def run_correlate(settings: Settings, files: Sequence[Path] = ()) -> None:
    """Run correlate until SIGINT or SIGTERM (faust's worker handles them, and exits), with
    the thresholds of the packs in `files` and on the rules topic. Raises PackError for a
    file that cannot be read or has problems in its `correlation` section, SettingsError for
    a `correlate_dir` where no folder can be made and written."""
    packs = PackConfigs(CorrelationConfig.from_settings(settings), files)
    with _data_folder(settings) as datadir:
        asyncio.run(ensure_topics(settings, live=True))  # the rules topic among them
        app = build_app(settings, packs, datadir=datadir)
        worker = faust.Worker(app, loglevel="WARNING", quiet=True)
        worker.spinner = None  # a progress spinner's escapes, even where there is no terminal
        worker.execute_from_commandline()


@contextmanager
def _data_folder(settings: Settings) -> Iterator[Path]:
    """The app's local data folder: `<correlate_dir>/<prefix>-correlate`, made if need be;
    a temporary folder, removed at the end, where `correlate_dir` is empty."""
    if not settings.correlate_dir:
        with tempfile.TemporaryDirectory(prefix="postwatch-correlate-") as temporary:
            yield Path(temporary)
        return
    folder = Path(settings.correlate_dir) / f"{settings.topic_prefix}-correlate"
    refused = f"POSTWATCH_CORRELATE_DIR={settings.correlate_dir}: {folder}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"{refused}: {exc.strerror or exc}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SettingsError(f"{refused}: not writable")
    yield folder
