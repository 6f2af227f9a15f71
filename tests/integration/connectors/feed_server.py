"""A local web server for the recorded feeds (feedparser's test files), with ETag and
Last-Modified validators, and faults on demand: 5xx answers with Retry-After, bodies cut
off mid-transfer, feeds that change."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field

from aiohttp import web

from tests.conftest import SHARED_DATA

FEEDS = SHARED_DATA / "rss_atom"
LAST_MODIFIED = "Sat, 04 Jul 2026 14:38:00 GMT"


def recorded_feeds() -> list[str]:
    """Paths of every recorded feed, relative to the folder."""
    return sorted(str(p.relative_to(FEEDS)) for p in FEEDS.rglob("*") if p.is_file())


@dataclass
class FeedServer:
    bodies: dict[str, bytes] = field(default_factory=dict)
    """Served instead of the recorded file of that path."""
    failures: dict[str, int] = field(default_factory=dict)
    """How many more times a path answers 503 (Retry-After: 0)."""
    cuts: set[str] = field(default_factory=set)
    """Paths whose next answer stops half-way through the body."""
    requests: list[tuple[str, int]] = field(default_factory=list)
    """(path, status) of every request answered."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feeds/{path:.+}", self._feed)
        return app

    def served(self, status: int) -> list[str]:
        return [path for path, code in self.requests if code == status]

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        if self.failures.get(path):
            self.failures[path] -= 1
            self.requests.append((path, 503))
            return web.Response(status=503, headers={"Retry-After": "0"})
        file = FEEDS / path
        if path not in self.bodies and not file.is_file():
            self.requests.append((path, 404))
            raise web.HTTPNotFound
        body = self.bodies.get(path) or file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.requests.append((path, 304))
            return web.Response(status=304, headers={"ETag": etag})
        kind = "application/json" if path.endswith(".json") else "application/xml"
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Content-Type": kind}
        if path in self.cuts:
            self.cuts.discard(path)
            self.requests.append((path, 200))
            response = web.StreamResponse(headers={**headers, "Content-Length": str(len(body))})
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError):
                await response.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.abort()
            return response
        self.requests.append((path, 200))
        return web.Response(body=body, headers=headers)
