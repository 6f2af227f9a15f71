"""A local X API: the filtered stream replays recorded stream output line by line (then
keep-alives), and the stream rules endpoint keeps rules the way X does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.conftest import SHARED_DATA

RECORDED = SHARED_DATA / "x_api_v2"
STREAM = RECORDED / "twarc_csv_streaming_output.jsonl"
TRUNCATED = RECORDED / "twarc_csv_streaming_output_with_error.jsonl"
TOKEN = "test-bearer-0123456789"  # noqa: S105 - the local server's credential


@dataclass
class XReplay:
    recordings: list[Path] = field(default_factory=list)
    """Played one per connection; a connection after the last only gets keep-alives."""
    close_after: bool = True
    """End each connection once its recording was played (as X does after an error line)."""
    refuse: list[int] = field(default_factory=list)
    """Statuses answered to the next stream requests, one each, before any is served."""
    reset_in: float = 0.0
    """Seconds from now that a 429's `x-rate-limit-reset` names."""
    rules: list[dict[str, Any]] = field(default_factory=list)
    """The rules in place: `id`, `value`, `tag`."""
    rule_posts: list[dict[str, Any]] = field(default_factory=list)
    """Bodies of every POST to the rules endpoint."""
    stream_queries: list[dict[str, str]] = field(default_factory=list)
    connected_at: list[tuple[int, float]] = field(default_factory=list)
    """(status, monotonic time) of every stream request."""
    heartbeat: float = 0.2
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_bearer])
        app.router.add_get("/2/tweets/search/stream", self._stream)
        app.router.add_get("/2/tweets/search/stream/rules", self._get_rules)
        app.router.add_post("/2/tweets/search/stream/rules", self._post_rules)
        return app

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            status = self.refuse.pop(0)
            self.connected_at.append((status, time.monotonic()))
            reset = {"x-rate-limit-reset": str(math.ceil(time.time() + self.reset_in))}
            return web.json_response(
                {"title": "refused"}, status=status, headers=reset if status == 429 else None
            )
        self.connected_at.append((200, time.monotonic()))
        self.stream_queries.append(dict(request.query))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        recording = self.recordings.pop(0) if self.recordings else None
        with contextlib.suppress(ConnectionResetError):  # the client went away
            if recording is not None:
                for line in recording.read_bytes().splitlines():
                    await response.write(line + b"\r\n")
                if self.close_after:
                    return response
            while True:
                await response.write(b"\r\n")
                await asyncio.sleep(self.heartbeat)
        return response

    async def _get_rules(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"meta": {"sent": "2026-07-04T14:00:00.000Z"}}
        if self.rules:
            body["data"] = self.rules
        return web.json_response(body)

    async def _post_rules(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.rule_posts.append(
            {**body, **({"dry_run": True} if "dry_run" in request.query else {})}
        )
        if "delete" in body:
            ids = set(body["delete"]["ids"])
            self.rules = [r for r in self.rules if r["id"] not in ids]
            return web.json_response({"meta": {"summary": {"deleted": len(ids)}}})
        dry_run = request.query.get("dry_run") == "true"
        created, errors = [], []
        for rule in body["add"]:
            if "(" in rule["value"] and ")" not in rule["value"]:
                errors.append(
                    {"title": "UnprocessableEntity", "detail": "unbalanced", "value": rule["value"]}
                )
                continue
            created.append({**rule, "id": str(next(self._ids))})
        if not dry_run:
            self.rules.extend(created)
        summary = {"created": len(created), "invalid": len(errors)}
        answer: dict[str, Any] = {"data": created, "meta": {"summary": summary}}
        if errors:
            answer["errors"] = errors
        return web.json_response(answer)


@web.middleware
async def _bearer(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
    response: web.StreamResponse = await handler(request)
    return response
