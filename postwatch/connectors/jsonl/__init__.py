"""The JSONL connector: replays a file (or standard input) of Post v1 lines, then exits.

Bad lines (not JSON, not Post v1) are reported with their line number and skipped; they
never stop the replay. An optional rate limit spaces posts out evenly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
import structlog

from postwatch.connectors.sink import PostSink
from postwatch.rules import InvalidPost
from postwatch.settings import Settings

__all__ = ["JsonlReport", "replay", "run_jsonl"]

log = structlog.get_logger(__name__)


@dataclass
class JsonlReport:
    lines: int = 0
    produced: int = 0
    skipped: int = 0
    bad_lines: list[int] = field(default_factory=list)


async def replay(
    lines: Iterable[bytes],
    sink: PostSink,
    *,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> JsonlReport:
    """Produce each Post v1 line to the sink; `rate` is posts per second (None: no limit)."""
    report = JsonlReport()
    started = time.monotonic()
    for number, line in enumerate(lines, start=1):
        report.lines = number
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
            await sink.send(doc)
        except (orjson.JSONDecodeError, InvalidPost) as exc:
            reason = exc.reason if isinstance(exc, InvalidPost) else "not_json"
            log.warning("jsonl.skipped", line=number, reason=reason, error=str(exc))
            report.skipped += 1
            report.bad_lines.append(number)
            continue
        report.produced += 1
        if progress is not None:
            progress(report.produced)
        if rate:
            delay = started + report.produced / rate - time.monotonic()
            if delay > 0:
                await sink.flush()
                await asyncio.sleep(delay)
    await sink.flush()
    return report


async def run_jsonl(
    settings: Settings,
    lines: Iterable[bytes],
    *,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> JsonlReport:
    """Replay lines into the posts topic of the configured cluster."""
    async with PostSink(settings) as sink:
        return await replay(lines, sink, rate=rate, progress=progress)
