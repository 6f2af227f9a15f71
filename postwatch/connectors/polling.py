"""Polling several targets of one source (feeds, channels) concurrently, each on its own
schedule, for the connectors that poll over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

import aiohttp

from postwatch.connectors.base import Runtime, SourceRejected, SourceUnavailable, Stopped
from postwatch.connectors.http import describe
from postwatch.connectors.options import option

__all__ = ["INTERVAL", "follow_all", "interval_option", "keep_polling"]

T = TypeVar("T")

INTERVAL = 300.0
"""Seconds between two polls of one target, unless told otherwise."""


def interval_option(help_text: str) -> Any:
    """The `interval` of a polling connector's options: seconds, at least 1, `INTERVAL` by
    default."""
    return option(help_text, default=INTERVAL, minimum=1)


async def follow_all(
    targets: Iterable[T], follow: Callable[[T], Coroutine[Any, Any, None]]
) -> None:
    """Run `follow(target)` for every target at once; returns when all have returned.

    A `Stopped` from any of them cancels the others and is raised as one `Stopped` (what
    the runtime takes for the normal end); any other exception cancels the others and is
    raised inside an `ExceptionGroup`."""
    try:
        async with asyncio.TaskGroup() as group:
            for target in targets:
                group.create_task(follow(target))
    except* Stopped:
        raise Stopped("stop requested") from None


async def keep_polling(
    runtime: Runtime,
    poll: Callable[[], Awaitable[None]],
    pause: Callable[[], float],
    *,
    name: str,
    rejected: str,
    **context: Any,
) -> None:
    """Await `poll()` over and over, `pause()` seconds apart, until a stop is asked (then
    raises `Stopped`); never returns otherwise.

    A poll that fails with `SourceUnavailable`, an aiohttp client error or a timeout (then
    reported as `SourceUnavailable` named by `name`, reason `connection`) is retried after
    `runtime.retry_later`, whose backoff grows with each failure in a row and starts again
    after a poll that did not fail so. A poll that fails with `SourceRejected` is counted
    (error `rejected`), logged as the warning event `rejected` with `context`, and polled
    again after the usual pause: the target may be fixed meanwhile."""
    attempt = 0
    while True:
        try:
            await poll()
        except SourceUnavailable as exc:
            await runtime.retry_later(exc, attempt)
            attempt += 1
            continue
        except SourceRejected as exc:
            runtime.metrics.error("rejected")
            runtime.log.warning(rejected, **context, error=str(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = SourceUnavailable(f"{name}: {describe(exc)}", reason="connection")
            await runtime.retry_later(error, attempt)
            attempt += 1
            continue
        attempt = 0
        await runtime.sleep(pause())
