"""A local Mastodon that replays the recorded streaming examples as they were framed, and
serves the REST timeline the way Mastodon does (newest first, `since_id`/`max_id`,
`Link` pagination) from the statuses published so far."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from yarl import URL

from tests.conftest import SHARED_DATA

RECORDING = SHARED_DATA / "mastodon" / "streaming_sse_examples.txt"


def recorded_frames() -> list[bytes]:
    """The recording cut into its SSE frames (each with its blank line), bytes as recorded."""
    raw = RECORDING.read_bytes()
    return [frame + b"\n\n" for frame in raw.split(b"\n\n") if frame.strip()]


def _id_key(status_id: str) -> tuple[int, str]:
    return (len(status_id), status_id)


@dataclass
class MastodonReplay:
    """The stream is a timeline of frames; `position` is the next frame to publish.

    `cut_at`: when the stream reaches that frame, half of it is written and the connection
    is aborted; the frames `cut_at .. cut_at + gap` are published while nobody listens.
    `hold_at`: the stream stops there (heartbeats only) until `release` moves it on.
    """

    frames: list[bytes]
    cut_at: int | None = None
    gap: int = 0
    hold_at: int | None = None
    heartbeat: float = 0.2
    position: int = 0
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: int = 0
    stream_requests: list[web.Request] = field(default_factory=list)
    timeline_queries: list[dict[str, str]] = field(default_factory=list)
    inject: list[bytes] = field(default_factory=list)
    """Extra raw bytes sent at the start of the next connection (malformed frames)."""
    refuse: int = 0
    """How many stream requests are answered 429 with `Retry-After: 1` first."""
    connected_at: list[float] = field(default_factory=list)
    """Monotonic time of every stream request."""
    next_origin: str | None = None
    """Where the `Link` header's next page is (scheme://host:port), if not on this server."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/streaming/{path:.*}", self._stream)
        app.router.add_get("/api/v1/timelines/public", self._timeline)
        return app

    def publish_until(self, end: int) -> None:
        """Publish frames up to `end` without streaming them (they happen while away)."""
        while self.position < min(end, len(self.frames)):
            self._publish(self.frames[self.position])
            self.position += 1

    def _publish(self, frame: bytes) -> None:
        event, data = "", ""
        for line in frame.decode("utf-8").splitlines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
        if event in ("update", "status.update"):
            status = json.loads(data)
            self.statuses[status["id"]] = status
        elif event == "delete":
            self.statuses.pop(data, None)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        self.connected_at.append(time.monotonic())
        if self.refuse:
            self.refuse -= 1
            return web.Response(status=429, headers={"Retry-After": "1"})
        self.connections += 1
        self.stream_requests.append(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client went away
            await self._play(request, response)
        return response

    async def _play(self, request: web.Request, response: web.StreamResponse) -> None:
        while self.inject:
            await response.write(self.inject.pop(0))
        while True:
            if self.cut_at is not None and self.position >= self.cut_at:
                frame = self.frames[self.position]
                await response.write(frame[: len(frame) // 2])
                self.cut_at, cut_end = None, self.position + self.gap
                self.publish_until(cut_end)
                assert request.transport is not None
                request.transport.abort()
                return
            held = self.hold_at is not None and self.position >= self.hold_at
            if held or self.position >= len(self.frames):
                await response.write(b":thump\n\n")
                await asyncio.sleep(self.heartbeat)
                continue
            frame = self.frames[self.position]
            self._publish(frame)
            self.position += 1
            await response.write(frame)

    async def _timeline(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.timeline_queries.append(query)
        limit = int(query.get("limit", "20"))
        chosen = sorted(self.statuses.values(), key=lambda s: _id_key(s["id"]), reverse=True)
        if "since_id" in query:
            chosen = [s for s in chosen if _id_key(s["id"]) > _id_key(query["since_id"])]
        if "max_id" in query:
            chosen = [s for s in chosen if _id_key(s["id"]) < _id_key(query["max_id"])]
        page = chosen[:limit]
        headers = {}
        if page:
            base = request.url.with_query({})
            if self.next_origin is not None:
                base = URL(self.next_origin).with_path(base.path)
            older = base.update_query({"max_id": page[-1]["id"], "limit": str(limit)})
            newer = base.update_query({"min_id": page[0]["id"], "limit": str(limit)})
            headers["Link"] = f'<{older}>; rel="next", <{newer}>; rel="prev"'
        return web.json_response(page, headers=headers)
