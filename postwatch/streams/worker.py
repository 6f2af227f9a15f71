"""Running a worker process: topics ensured, the faust app started, until a signal."""

from __future__ import annotations

import asyncio

import faust
import structlog

from postwatch.rules import Engine
from postwatch.settings import Settings
from postwatch.streams.app import create_app
from postwatch.streams.metrics import Metrics
from postwatch.streams.topics import ensure_topics

__all__ = ["run_worker"]

log = structlog.get_logger(__name__)


def run_worker(settings: Settings, engine: Engine) -> None:
    """Run one worker until SIGINT or SIGTERM; never returns (exits the process)."""
    asyncio.run(ensure_topics(settings, live=True))
    metrics = Metrics()
    if settings.metrics_port:
        metrics.serve(settings.metrics_host, settings.metrics_port)
    app = create_app(settings, engine, metrics)
    log.info(
        "worker.starting",
        group=settings.group,
        rules=len(engine.rules),
        posts_topic=settings.topic("posts"),
    )
    worker = faust.Worker(
        app, loglevel=settings.log_level.upper(), quiet=True, override_logging=False
    )
    worker.execute_from_commandline()
