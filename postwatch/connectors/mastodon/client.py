"""Mastodon's wire formats: the streaming API's server-sent events and the REST timelines
used to fill the gap a reconnect leaves (SSE has no resume)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from postwatch.connectors.streaming import LineSplitter

__all__ = ["SseDecoder", "SseEvent", "StreamSpec", "id_after", "rewound"]

# status ids are snowflakes: milliseconds since the epoch shifted left by 16 bits
_SNOWFLAKE_SHIFT = 16
_SNOWFLAKE_MIN_MS = 10**12  # ids that decode to a time before 2001 are not snowflakes


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str
    data: str


@dataclass
class SseDecoder:
    """Incremental decoder of a `text/event-stream` body (WHATWG HTML, "server-sent
    events"): `feed` takes bytes as they arrive and yields each complete event. Comment
    lines (`:thump`) and `id`/`retry` fields are ignored; an event without data is not
    dispatched. A line longer than `max_line` bytes is dropped and reported as an event
    named `""` (the caller counts it as malformed)."""

    max_line: int = 4 * 1024 * 1024
    _lines: LineSplitter = field(init=False, repr=False)
    _event: str = ""
    _data: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lines = LineSplitter(self.max_line)

    def feed(self, chunk: bytes) -> Iterator[SseEvent]:
        for raw in self._lines.feed(chunk):
            if raw is None:
                self._event, self._data = "", []
                yield SseEvent("", "line too long")
                continue
            event = self._line(raw.rstrip(b"\r").decode("utf-8", errors="replace"))
            if event is not None:
                yield event

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            event, data = self._event, self._data
            self._event, self._data = "", []
            return SseEvent(event or "message", "\n".join(data)) if data else None
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A stream as written on the command line: `public`, `public:local`, `hashtag:TAG`,
    `list:ID`; knows its streaming endpoint and the REST timeline that backs it."""

    kind: str
    argument: str = ""

    @classmethod
    def parse(cls, text: str) -> StreamSpec:
        kind, _, argument = text.partition(":")
        if kind == "public" and argument in ("", "local"):
            return cls(kind, argument)
        if kind in ("hashtag", "list") and argument:
            return cls(kind, argument.removeprefix("#") if kind == "hashtag" else argument)
        raise ValueError(f"not a stream: {text!r} (public, public:local, hashtag:TAG, list:ID)")

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind

    def streaming(self) -> tuple[str, dict[str, str]]:
        """Path and query of the streaming endpoint."""
        if self.kind == "public":
            return "/api/v1/streaming/public" + ("/local" if self.argument else ""), {}
        if self.kind == "hashtag":
            return "/api/v1/streaming/hashtag", {"tag": self.argument}
        return "/api/v1/streaming/list", {"list": self.argument}

    def timeline(self) -> tuple[str, dict[str, str]]:
        """Path and query of the REST timeline with the same statuses."""
        if self.kind == "public":
            return "/api/v1/timelines/public", ({"local": "true"} if self.argument else {})
        if self.kind == "hashtag":
            return f"/api/v1/timelines/tag/{self.argument}", {}
        return f"/api/v1/timelines/list/{self.argument}", {}


def id_after(candidate: str, since: str) -> bool:
    """Whether status id `candidate` sorts after `since` (numeric ids by value; other id
    schemes, such as base62 flake ids, by length then text, which is the same order)."""
    return (len(candidate), candidate) > (len(since), since)


def rewound(status_id: str, seconds: float) -> str:
    """A status id `seconds` earlier than `status_id`, for a backfill that also catches
    statuses that reached the server late (federated ones carry their origin's time).
    Ids that are not snowflakes are returned as they are."""
    if not (status_id.isascii() and status_id.isdigit()):  # "²" is a digit to isdigit only
        return status_id
    millis = int(status_id) >> _SNOWFLAKE_SHIFT
    if millis < _SNOWFLAKE_MIN_MS:
        return status_id
    return str(max(0, millis - int(seconds * 1000)) << _SNOWFLAKE_SHIFT)
