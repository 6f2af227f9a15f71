"""A local Jetstream that replays the recorded v1 events (`bluesky/corpus/expected_v1.jsonl`)
as Jetstream serves them: filtered by `wantedCollections` and `wantedDids` (identity and
account events always pass), replayed from `cursor` (time in µs) when given, live after."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.conftest import SHARED_DATA

RECORDING = SHARED_DATA / "bluesky" / "corpus" / "expected_v1.jsonl"


def recorded_events() -> list[str]:
    """The recorded lines, verbatim, in the order Jetstream replays them (by time_us)."""
    lines = [line for line in RECORDING.read_text(encoding="utf-8").splitlines() if line]
    return sorted(lines, key=lambda line: json.loads(line)["time_us"])


@dataclass
class JetstreamReplay:
    """`position` is the next event to happen. A connection without cursor starts live at
    `position`; with one, it first gets every event so far from that time on.

    `cut_at`: the connection is dropped when `position` reaches it, and `gap` events happen
    while nobody listens. `hold_at`: nothing more happens until it is cleared.
    """

    events: list[str]
    cut_at: int | None = None
    gap: int = 0
    hold_at: int | None = None
    position: int = 0
    inject: list[str | bytes] = field(default_factory=list)
    queries: list[dict[str, list[str]]] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve the replay on a free local port while the block runs; gives its URL."""
        server = await serve(self._handler, "127.0.0.1", 0)
        try:
            port = next(iter(server.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}/subscribe"
        finally:
            server.close()

    def _wanted(self, event: str, query: dict[str, list[str]]) -> bool:
        doc = json.loads(event)
        dids = query.get("wantedDids")
        if dids and doc["did"] not in dids:
            return False
        collections = query.get("wantedCollections")
        return (
            doc["kind"] != "commit" or not collections or doc["commit"]["collection"] in collections
        )

    async def _handler(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None
        query = parse_qs(urlsplit(websocket.request.path).query)
        self.queries.append(query)
        with contextlib.suppress(ConnectionClosed):
            for message in self.inject:
                await websocket.send(message)
            self.inject.clear()
            if "cursor" in query:
                since = int(query["cursor"][0])
                for event in self.events[: self.position]:
                    if json.loads(event)["time_us"] >= since and self._wanted(event, query):
                        await websocket.send(event)
            while True:
                if self.cut_at is not None and self.position >= self.cut_at:
                    self.cut_at, self.position = (
                        None,
                        min(len(self.events), self.position + self.gap),
                    )
                    websocket.transport.abort()
                    return
                held = self.hold_at is not None and self.position >= self.hold_at
                if held or self.position >= len(self.events):
                    await asyncio.sleep(0.05)
                    continue
                event = self.events[self.position]
                self.position += 1
                if self._wanted(event, query):
                    await websocket.send(event)
