"""The faust app, built from the frozen settings and a compiled engine."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import faust
import structlog
from aiokafka.errors import KafkaError

from postwatch.rules import Engine
from postwatch.rules.mirror import MirrorConfig, Tracker
from postwatch.settings import Settings
from postwatch.streams.agents.match import MatchStage
from postwatch.streams.gaps import GapFiller
from postwatch.streams.live import LiveFeed
from postwatch.streams.metrics import Metrics
from postwatch.streams.topics import ALERTS, ALERTS_OCSF, DEADLETTER, LEARNED, POSTS

__all__ = ["TableWindows", "create_app"]

log = structlog.get_logger(__name__)

_SWEEP_MIN_S = 0.5
_SWEEP_MAX_S = 10.0
_CATCH_UP_S = 2.0
_QUIET_S = 3.0  # a partition this long without a record, but with records to read: skipped


class TableWindows:
    """Suppression windows in a faust table (a `WindowStore`): every change goes to the
    table's changelog topic, from which a restarted worker, or the worker that takes over
    the partition, recovers them."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str) -> dict[str, Any] | None:
        window: dict[str, Any] | None = self.table.get(key)
        return window

    # `table[key] = …` and `del table[key]` take the changelog partition from the record
    # being processed; windows are also changed between records (closing them, processing
    # records read again), so each change goes to the window's own partition explicitly

    def put(self, key: str, window: dict[str, Any]) -> None:
        self.table.send_changelog(window["partition"], key, window)
        self.table.data[key] = window

    def delete(self, key: str, partition: int) -> None:
        self.table.send_changelog(partition, key, None, value_serializer="raw")
        self.table.data.pop(key, None)

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.table.data.items())

    def __len__(self) -> int:
        return len(self.table.data)


def create_app(settings: Settings, engine: Engine, metrics: Metrics | None = None) -> faust.App:
    """A worker app: consumes the posts topic, produces alerts (and, when enabled, their OCSF
    findings) and dead letters; repeat-suppression windows live in a changelog-backed table."""
    app = faust.App(
        settings.group,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        datadir=str(Path(tempfile.gettempdir()) / f"postwatch-faust-{settings.group}"),
        autodiscover=False,
        web_enabled=False,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        topic_disable_leader=True,
        topic_partitions=settings.posts_partitions,
        consumer_auto_offset_reset="earliest",
        loghandlers=[],
    )
    posts = app.topic(settings.topic(POSTS), key_serializer="raw", value_serializer="raw")
    alerts = app.topic(settings.topic(ALERTS), key_serializer="raw", value_serializer="raw")
    ocsf = app.topic(settings.topic(ALERTS_OCSF), key_serializer="raw", value_serializer="raw")
    deadletter = app.topic(settings.topic(DEADLETTER), key_serializer="raw", value_serializer="raw")
    learned = app.topic(settings.topic(LEARNED), key_serializer="raw", value_serializer="raw")
    suppressing = settings.suppress_window_s > 0
    windows = (
        TableWindows(
            app.Table(
                "suppression",
                default=None,
                help="Open repeat-suppression windows by suppression key (JSON keys, values).",
            )
        )
        if suppressing
        else None
    )

    async def send_alert(key: bytes | None, value: bytes) -> Awaitable[Any]:
        return await alerts.send(key=key, value=value, force=True)

    async def send_ocsf(key: bytes | None, value: bytes) -> Awaitable[Any]:
        return await ocsf.send(key=key, value=value, force=True)

    async def send_deadletter(key: bytes | None, value: bytes) -> Awaitable[Any]:
        return await deadletter.send(key=key, value=value, force=True)

    async def send_learned(key: bytes | None, value: bytes) -> Awaitable[Any]:
        return await learned.send(key=key, value=value, force=True)

    tracker = Tracker(
        MirrorConfig.from_settings(settings),
        [account for pack in engine.packs for account in pack.accounts],
    )

    stage = MatchStage(
        engine,
        send_alert,
        send_deadletter,
        metrics=metrics or Metrics(),
        send_ocsf=send_ocsf if settings.ocsf_enabled else None,
        windows=windows,
        window_s=settings.suppress_window_s,
        tracker=tracker,
        send_learned=send_learned,
    )
    live = LiveFeed(settings, stage, tracker, engine.packs, stage.metrics)

    @app.task  # type: ignore[untyped-decorator]  # faust's task decorator is unannotated
    async def follow_live_rules() -> None:
        await live.run()

    gaps = GapFiller(settings, settings.group, stage.process)

    # concurrency 1: faust loses messages with concurrent agents (faust-streaming issue #606)
    @app.agent(posts, concurrency=1)
    async def match(stream: faust.StreamT[bytes]) -> None:
        await live.ready.wait()
        async for event in stream.events():
            message = event.message
            stage.metrics.refetched.inc(
                await gaps.before(
                    message.topic, message.partition, message.offset, message.generation_id
                )
            )
            await stage.process(
                message.key, message.value, message.topic, message.partition, message.offset
            )

    @app.timer(_CATCH_UP_S)  # type: ignore[untyped-decorator]  # faust's timer is unannotated
    async def catch_up() -> None:
        if app.rebalancing or app.in_recovery:
            return
        positions = {}
        for tp in app.assignor.assigned_actives():
            if tp.topic == settings.topic(POSTS):
                position = await app.consumer.position(tp)
                if position is not None:
                    positions[(tp.topic, tp.partition)] = position
        try:
            found = await gaps.catch_up(positions, app.consumer_generation_id, _QUIET_S)
        except KafkaError as exc:  # the broker is away: the next tick tries again
            log.warning("catch_up.deferred", error=type(exc).__name__)
            return
        stage.metrics.refetched.inc(found)

    if suppressing:
        interval = min(_SWEEP_MAX_S, max(_SWEEP_MIN_S, settings.suppress_window_s / 5))

        @app.timer(interval)  # type: ignore[untyped-decorator]  # faust's timer is unannotated
        async def close_windows() -> None:
            if app.rebalancing or app.in_recovery:  # the table is incomplete until recovered
                return
            owned = {
                tp.partition
                for tp in app.assignor.assigned_actives()
                if tp.topic == settings.topic(POSTS)
            }
            await stage.sweep(owned)

    return app


def _credentials(settings: Settings) -> Any:
    if settings.kafka_sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=settings.kafka_client_options().get("ssl_context"),
        )
    if settings.kafka_ssl_cafile:
        return faust.SSLCredentials(settings.kafka_client_options()["ssl_context"])
    return None
