"""Progress on long work: a live counter on a terminal, a periodic log line otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["progress_counter"]

_LOG_EVERY_S = 10.0


@contextmanager
def progress_counter(label: str) -> Iterator[Callable[[int], None]]:
    """Yields `update(count)`; shows `count label` live on a terminal (standard error)."""
    if sys.stderr.isatty():
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.completed:,} " + label),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=None)
            yield lambda count: bar.update(task, completed=count)
        return
    log = structlog.get_logger(__name__)
    last = [time.monotonic()]

    def update(count: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _LOG_EVERY_S:
            last[0] = now
            log.info("progress", done=count, what=label)

    yield update
