"""Answers read by the connectors are bounded: a body over the limit, told by its length or
found while reading it, is the poll's failure (`too_large`), read no further."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from postwatch.connectors.base import SourceUnavailable
from postwatch.connectors.http import read_bounded
from tests.local_server import served

LIMIT = 64 * 1024


async def chunked(request: web.Request) -> web.StreamResponse:
    """`size` bytes with no Content-Length, as a server that lies about nothing."""
    response = web.StreamResponse()
    await response.prepare(request)
    left = int(request.query["size"])
    while left > 0:
        await response.write(b"x" * min(left, 8192))
        left -= 8192
    return response


async def sized(request: web.Request) -> web.Response:
    return web.Response(body=b"y" * int(request.query["size"]))


async def read(path: str, size: int) -> bytes:
    app = web.Application()
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/sized", sized)
    async with (
        served(app) as url,
        aiohttp.ClientSession() as http,
        http.get(url + path, params={"size": str(size)}) as response,
    ):
        return await read_bounded(response, "test", LIMIT)


@pytest.mark.parametrize("path", ["/chunked", "/sized"])
def test_a_body_within_the_limit_is_read_whole(path: str) -> None:
    assert len(asyncio.run(read(path, LIMIT))) == LIMIT


@pytest.mark.parametrize("path", ["/chunked", "/sized"])
def test_a_body_over_the_limit_is_refused(path: str) -> None:
    with pytest.raises(SourceUnavailable) as refused:
        asyncio.run(read(path, 50 * LIMIT))
    assert refused.value.reason == "too_large"
    assert f"larger than {LIMIT:,} bytes" in str(refused.value)
