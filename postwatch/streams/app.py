"""The faust app, built from the frozen settings and a compiled engine."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import faust

from postwatch.rules import Engine
from postwatch.settings import Settings
from postwatch.streams.agents.match import MatchStage
from postwatch.streams.topics import ALERTS, DEADLETTER, POSTS

__all__ = ["create_app"]


def create_app(settings: Settings, engine: Engine) -> faust.App:
    """A worker app: consumes the posts topic, produces alerts and dead letters."""
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
        # a worker that dies is noticed in seconds, so its partitions move on quickly
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        loghandlers=[],
    )
    posts = app.topic(settings.topic(POSTS), key_serializer="raw", value_serializer="raw")
    alerts = app.topic(settings.topic(ALERTS), key_serializer="raw", value_serializer="raw")
    deadletter = app.topic(settings.topic(DEADLETTER), key_serializer="raw", value_serializer="raw")

    async def send_alert(key: bytes | None, value: bytes) -> Awaitable[Any]:
        return await alerts.send(key=key, value=value, force=True)

    async def send_deadletter(key: bytes | None, value: bytes) -> Awaitable[Any]:
        return await deadletter.send(key=key, value=value, force=True)

    stage = MatchStage(engine, send_alert, send_deadletter)

    # concurrency 1: faust loses messages with concurrent agents (faust-streaming issue #606)
    @app.agent(posts, concurrency=1)
    async def match(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            await stage.process(
                message.key, message.value, message.topic, message.partition, message.offset
            )

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
