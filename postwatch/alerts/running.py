"""Running a consumer command until it is done or told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ["run_until_stopped"]


def run_until_stopped(main: Coroutine[Any, Any, Any]) -> None:
    """Run `main` until it returns or SIGINT or SIGTERM arrives; a signal cancels it, so its
    cleanup (closing consumers, committing) runs before the process exits normally."""

    async def runner() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(runner())
