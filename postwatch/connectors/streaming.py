"""Reading long-lived HTTP streams (server-sent events, newline-delimited JSON), for the
connectors that stream over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import aiohttp

from postwatch.connectors.base import Runtime, SourceUnavailable
from postwatch.connectors.http import describe, session

__all__ = ["LineSplitter", "keep_streaming"]


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


async def keep_streaming(
    runtime: Runtime,
    client_timeout: aiohttp.ClientTimeout,
    connect: Callable[[aiohttp.ClientSession], AbstractAsyncContextManager[aiohttp.ClientResponse]],
    read: Callable[[aiohttp.ClientResponse, Runtime], Awaitable[None]],
    *,
    pace: Callable[[SourceUnavailable, int], SourceUnavailable] | None = None,
) -> None:
    """Open a stream with `connect` and `read` it until it ends, then again, over and over,
    until a stop is asked (then raises `Stopped`); never returns otherwise.

    One client session (`client_timeout`) serves every connection. `connect(http)` opens the
    stream and does whatever must succeed before reading (check the status, fill a gap);
    once it has, the backoff starts again from its first step. A stream that ends, or fails
    with `SourceUnavailable`, an aiohttp client error or a timeout (these two as reason
    `disconnected`), is opened again after `runtime.retry_later`, which is given
    `pace(error, attempt)` instead of the error if `pace` is given (a source's own pace of
    reconnection, as a longer `retry_after`). `SourceRejected` and other faults are raised."""
    attempt = 0
    async with session("postwatch", timeout=client_timeout) as http:
        while True:
            try:
                async with connect(http) as response:
                    attempt = 0
                    await read(response, runtime)
                error = SourceUnavailable("the server ended the stream", reason="disconnected")
            except SourceUnavailable as exc:
                error = exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = SourceUnavailable(f"connection: {describe(exc)}", reason="disconnected")
            await runtime.retry_later(error if pace is None else pace(error, attempt), attempt)
            attempt += 1
