"""Reading long-lived HTTP streams (server-sent events, newline-delimited JSON), for the
connectors that stream over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["LineSplitter"]


@dataclass
class LineSplitter:
    """Splits a stream body into lines as its bytes arrive.

    `feed` takes the next chunk and yields, in order, each line it completes, without its
    `\\n` (what else ends a line, such as a `\\r` before it, is the format's to strip). A
    line longer than `max_line` bytes is not kept, so a peer cannot make the buffer grow
    without bound: once its end arrives, `None` is yielded in its place, once. `rest`
    takes what came after the last line break: a line the connection cut short."""

    max_line: int
    _buffer: bytearray = field(default_factory=bytearray)
    _overlong: bool = False

    def feed(self, chunk: bytes) -> Iterator[bytes | None]:
        self._buffer += chunk
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_line:
                    self._buffer.clear()
                    self._overlong = True
                return
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._overlong:  # the tail of a line that was too long
                self._overlong = False
                yield None
            else:
                yield line

    def rest(self) -> bytes:
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest
