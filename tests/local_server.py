"""Local HTTP servers for the tests: an aiohttp app served on a free port of 127.0.0.1."""

from __future__ import annotations

from aiohttp import web


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on a free local port; returns the runner (`cleanup()` stops it) and the
    base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
