"""`postwatch alerts serve`: a read-only web alert feed for the operations room.

One page (`/`), its script and style sheet, and a server-sent-events stream (`/events`) of
the alerts read from the topic. Every request needs the token: as `Authorization: Bearer
TOKEN`, or in the browser by opening `/?token=TOKEN` once, which sets an HttpOnly cookie and
takes the token out of the address bar. Without it, or with a credential that is not even
text: 401. Anything but GET and HEAD: 405. The page loads nothing from anywhere else, and
its Content-Security-Policy forbids it to.

The cookie is `Secure` when the browser came over HTTPS: to this server itself, or, with
`trust_proxy`, to the proxy in front of it that says so in `X-Forwarded-Proto`; with
`secure_cookie`, always (a TLS proxy that sets no such header).

The server keeps the last `backlog` alerts; a page that connects gets those, then each new
one. A page that reconnects sends the id of the last event it has and gets only what it
missed (while that is still in the backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from importlib import resources

import structlog
from aiohttp import web

from postwatch.alerts.feed import Start, read_alerts
from postwatch.kafka.topics import ALERTS
from postwatch.settings import Settings

__all__ = ["AlertHub", "create_web_app", "run_server"]

log = structlog.get_logger(__name__)

COOKIE = "postwatch_token"
_KEEPALIVE_S = 15.0
_LISTENER_QUEUE = 1000
_RETRY_S = 5.0
_ASSETS = {
    "feed.js": "text/javascript",
    "feed.css": "text/css",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

HUB: web.AppKey[AlertHub] = web.AppKey("hub")
TOKEN: web.AppKey[str] = web.AppKey("token")
SECURE_COOKIE: web.AppKey[bool] = web.AppKey("secure_cookie")
TRUST_PROXY: web.AppKey[bool] = web.AppKey("trust_proxy")


class _Listener:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(_LISTENER_QUEUE)
        self.dropped = False


class AlertHub:
    """The last alerts read, numbered in arrival order, and the pages listening for more."""

    def __init__(self, backlog: int) -> None:
        self._backlog: deque[tuple[int, bytes]] = deque(maxlen=backlog)
        self._listeners: set[_Listener] = set()
        self._last = 0

    def publish(self, value: bytes) -> None:
        """Number an alert, keep it, and hand it to every listener; a listener too slow to
        keep up is dropped (its page reconnects and catches up from the backlog)."""
        self._last += 1
        item = (self._last, value)
        self._backlog.append(item)
        for listener in list(self._listeners):
            try:
                listener.queue.put_nowait(item)
            except asyncio.QueueFull:
                listener.dropped = True
                self._listeners.discard(listener)

    def after(self, last_id: int) -> list[tuple[int, bytes]]:
        """The kept alerts numbered above `last_id`; all of them when `last_id` is above any
        number given (the page was fed by an earlier run of the server)."""
        since = last_id if last_id <= self._last else 0
        return [item for item in self._backlog if item[0] > since]

    @contextlib.contextmanager
    def listen(self) -> Iterator[_Listener]:
        listener = _Listener()
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)


def _authorised(token: str, offered: str | None) -> bool:
    """Whether `offered` is the token. Header bytes that are not UTF-8 arrive as surrogates
    (so may a token from the environment): compared as the bytes they stand for, they are
    simply not the token."""
    if offered is None:
        return False
    return hmac.compare_digest(
        offered.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
    )


def _over_https(request: web.Request) -> bool:
    """Whether the browser reached the feed over HTTPS: this connection, or, when the proxy
    in front is trusted, the last `X-Forwarded-Proto` value (the one that proxy added; a
    client may have sent earlier ones itself)."""
    if request.secure:
        return True
    if not request.app[TRUST_PROXY]:
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    return forwarded.rpartition(",")[2].strip().lower() == "https"


def _offered_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.cookies.get(COOKIE)


_UNAUTHORISED = (
    "401 Unauthorized: this alert feed needs its token. "
    "Open /?token=TOKEN in the browser once, or send 'Authorization: Bearer TOKEN'.\n"
)


@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method not in {"GET", "HEAD"}:
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    token = request.app[TOKEN]
    if request.path == "/" and "token" in request.query:
        if not _authorised(token, request.query["token"]):
            raise web.HTTPUnauthorized(text=_UNAUTHORISED, headers={"WWW-Authenticate": "Bearer"})
        found = web.HTTPSeeOther("/")
        secure = request.app[SECURE_COOKIE] or _over_https(request)
        found.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/")
        raise found
    if not _authorised(token, _offered_token(request)):
        raise web.HTTPUnauthorized(text=_UNAUTHORISED, headers={"WWW-Authenticate": "Bearer"})
    return await handler(request)


async def _secure_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)


def _asset(name: str) -> bytes:
    return resources.files("postwatch.alerts").joinpath("static", name).read_bytes()


async def _index(_request: web.Request) -> web.Response:
    return web.Response(body=_asset("index.html"), content_type="text/html", charset="utf-8")


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise web.HTTPNotFound
    return web.Response(body=_asset(name), content_type=_ASSETS[name], charset="utf-8")


def _event(number: int, value: bytes) -> bytes:
    # Alert records are single-line JSON; a stray newline would end the event early
    data = value.replace(b"\r", b"").replace(b"\n", b" ")
    return b"id: %d\nevent: alert\ndata: %s\n\n" % (number, data)


async def _events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    try:
        last = int(request.headers.get("Last-Event-ID", "0"))
    except ValueError:
        last = 0
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    with hub.listen() as listener:
        await response.write(b"retry: 2000\n\n")
        for number, value in hub.after(last):
            await response.write(_event(number, value))
            last = number
        while not listener.dropped:
            try:
                number, value = await asyncio.wait_for(listener.queue.get(), _KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if number > last:
                await response.write(_event(number, value))
                last = number
    return response


async def _pump(settings: Settings, start: Start, hub: AlertHub) -> None:
    """Read alerts into the hub for as long as the server runs; retry when the broker fails."""
    while True:
        try:
            async with read_alerts(settings, start) as (_, records):
                log.info("serve.reading", topic=settings.topic(ALERTS))
                async for record in records:
                    hub.publish(record.value)
        except asyncio.CancelledError:
            raise
        except Exception:  # any broker failure: log it and read again shortly
            log.exception("serve.read_failed")
            await asyncio.sleep(_RETRY_S)


def create_web_app(
    token: str, hub: AlertHub, *, secure_cookie: bool = False, trust_proxy: bool = False
) -> web.Application:
    """The web feed: the page and the events of `hub`, behind the token; `secure_cookie`
    and `trust_proxy` as the module says."""
    app = web.Application(middlewares=[_guard])
    app[TOKEN] = token
    app[HUB] = hub
    app[SECURE_COOKIE] = secure_cookie
    app[TRUST_PROXY] = trust_proxy
    app.on_response_prepare.append(_secure_headers)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/events", _events)
    return app


def run_server(
    settings: Settings,
    token: str,
    start: Start,
    *,
    host: str,
    port: int,
    backlog: int,
    secure_cookie: bool = False,
    trust_proxy: bool = False,
) -> None:
    """Serve the feed of the alerts topic, read from `start`, until SIGINT or SIGTERM."""
    hub = AlertHub(backlog)
    app = create_web_app(token, hub, secure_cookie=secure_cookie, trust_proxy=trust_proxy)

    async def reading(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_pump(settings, start, hub))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(reading)
    log.info("serve.listening", host=host, port=port)
    web.run_app(app, host=host, port=port, print=None, access_log=None, shutdown_timeout=2.0)
