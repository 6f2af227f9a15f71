"""`postwatch alerts serve`: the review console, a web page for the operations room.

The server follows the alerts and decisions topics into the alert store
(`postwatch.alerts.store`) and answers from it:

- `GET /` the page, `GET /static/NAME` its script and style sheet;
- `GET /api/me` who is signed in, the role, and the session's CSRF token;
- `GET /api/queue?severity=&rule=&source=&kind=&verdict=&limit=` the queue, undecided first;
- `GET /api/alerts/ID` an alert with its decisions and context: the author's other alerts,
  and the original of a reappearance (its alert, or the alerts of the original post);
- `GET /api/pivot?author=|hash=|fingerprint=|domain=` the alerts sharing that;
- `GET /api/users` the users and their roles (admins only);
- `GET /api/rules?since=` rule quality (`AlertStore.rule_stats`): per rule and per bank
  entry, the alerts, alerts a day, the share decided and the precision;
- `GET /api/media/ID/N` the image of the alert's post's media item N (its URL in
  `post.media`), fetched by this server with the media fetcher's guards (no private
  addresses unless told, size and time limits, the format told by its magic bytes): the
  page shows it from here, so it loads nothing from anywhere else, blurred until clicked;
- `GET /events` server-sent events: `alert` (a new alert), `decision` (an alert with its
  new decision) and `reload` (the store has caught up with the topics: load again);
- `POST /api/alerts/ID/decision` `{"verdict": …, "note": …}` records a verdict with
  `Decider` (the decisions topic; a `confirm` teaches the post to the workers), in the
  name of the user signed in.

Who is who (`postwatch.alerts.users`): a user signs in once with a token, opening
`/?token=TOKEN`, which starts a session (an HttpOnly, SameSite=Strict cookie; the token leaves
the address bar); a script sends `Authorization: Bearer TOKEN` with every request instead;
behind a single sign-on proxy, when `proxy_header` names the header the proxy puts its user
in, that header is believed. Unknown or forged credentials: 401. A user the proxy names who
has no role: 403. GET is read-only and open to every role; a decision needs the role
`reviewer` (or `admin`), a signed-in session, its CSRF token in the `X-CSRF-Token` header, and
POST: else 403, and nothing is written.

The session cookie is `Secure` when the browser came over HTTPS: to this server itself, or,
with `trust_proxy`, to the proxy in front of it that says so in `X-Forwarded-Proto`; with
`secure_cookie`, always. The page loads nothing from anywhere else, and its
Content-Security-Policy forbids it to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol, cast, get_args

import orjson
import structlog
from aiohttp import web

from postwatch.alerts import AlertsError
from postwatch.alerts.decide import Decided, Decider
from postwatch.alerts.filters import BadSince, parse_since
from postwatch.alerts.store import UNDECIDED, AlertStore, Query, Stored, StoreError, follow
from postwatch.alerts.users import NAME, Directory, Role, Session, Sessions, User, may
from postwatch.media.errors import MediaError
from postwatch.media.fetch import FetchOptions, MediaFetcher
from postwatch.media.hashing import HashOptions, sniff
from postwatch.rules import Severity
from postwatch.rules.alerts import ALERT_KINDS, Alert
from postwatch.rules.decisions import NOTE_MAX, VERDICTS, Decision, Verdict
from postwatch.settings import Settings

__all__ = [
    "Access",
    "ConsoleStore",
    "Deciding",
    "Events",
    "Recorder",
    "Viewing",
    "create_web_app",
    "item",
    "media_fetcher",
    "run_server",
]

log = structlog.get_logger(__name__)

COOKIE = "postwatch_session"
CSRF_HEADER = "X-CSRF-Token"
_KEEPALIVE_S = 15.0
_LISTENER_QUEUE = 1000
_RETRY_S = 5.0
_QUEUE_LIMIT = 200
_CHECKS = 2
"""Token checks (scrypt) run at once at most."""
_CONTEXT_LIMIT = 20
_PIVOTS = ("author", "hash", "fingerprint", "domain")
_ASSETS = {
    "console.js": "text/javascript",
    "console.css": "text/css",
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


@dataclass(frozen=True, slots=True)
class Access:
    """How the console knows its users: the users file (None: proxy users only), the sessions,
    the proxy's user header ("" : no proxy believed), the role of a proxy user the file does
    not list (None: refused), the cookie's options, and the token checks under way."""

    directory: Directory | None
    sessions: Sessions
    proxy_header: str = ""
    proxy_role: Role | None = None
    secure_cookie: bool = False
    trust_proxy: bool = False
    checks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(_CHECKS))


class Recorder(Protocol):
    """What records decisions: `Decider`, or a stand-in in tests."""

    async def decide(
        self, alert: Alert, verdict: Verdict, user: str, note: str = ""
    ) -> Decided: ...


@dataclass(slots=True)
class Deciding:
    """What decisions go through; None until it has started (decisions: 503)."""

    decider: Recorder | None = None


@dataclass(slots=True)
class Viewing:
    """What fetches the images of alerts' posts; None until it has started (images: 503)."""

    fetcher: MediaFetcher | None = None


def media_fetcher(private: bool) -> MediaFetcher:
    """The console's fetcher of images: one at a time per page's worth, images only, 8 MB at
    most, 10 s; loopback and private addresses only when `private`."""
    return MediaFetcher(
        FetchOptions(
            max_bytes=8 << 20,
            timeout=10.0,
            concurrency=4,
            kinds=frozenset({"image"}),
            allow_private_addresses=private,
            hash_options=HashOptions(ocr=()),
        )
    )


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request, as what, and in which session (None: a bearer token, no session)."""

    user: str
    role: Role
    session: Session | None


class _Listener:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_LISTENER_QUEUE)
        self.dropped = False


class Events:
    """The pages listening for what changes in the store."""

    def __init__(self) -> None:
        self._listeners: set[_Listener] = set()

    def publish(self, event: str, data: bytes) -> None:
        """Hand an event to every listener; a listener too slow to keep up is dropped (its
        page reconnects and loads the queue again)."""
        for listener in list(self._listeners):
            try:
                listener.queue.put_nowait((event, data))
            except asyncio.QueueFull:
                listener.dropped = True
                self._listeners.discard(listener)

    @contextlib.contextmanager
    def listen(self) -> Iterator[_Listener]:
        listener = _Listener()
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)


def item(stored: Stored) -> dict[str, Any]:
    """An alert as the page gets it: Alert v1 with its verdict and its decisions."""
    document = stored.document()
    document["decisions"] = [
        {"verdict": d.verdict, "user": d.user, "decided_at": d.decided_at, "note": d.note}
        for d in stored.decisions
    ]
    return document


class ConsoleStore(AlertStore):
    """The alert store, which tells the pages of each alert and decision once `live` (after
    the first load: a page loads the queue itself)."""

    def __init__(self, events: Events, path: str = ":memory:") -> None:
        super().__init__(path)
        self.events = events
        self.live = False

    def add(self, alerts: Sequence[Alert]) -> None:
        super().add(alerts)
        if self.live:
            self._tell("alert", (a.alert_id for a in alerts))

    def decide(self, decisions: Sequence[Decision]) -> None:
        super().decide(decisions)
        if self.live:
            self._tell("decision", dict.fromkeys(d.alert_id for d in decisions))

    def _tell(self, event: str, alert_ids: Iterable[str]) -> None:
        for alert_id in alert_ids:
            stored = self.get(alert_id)
            if stored is not None:
                self.events.publish(event, orjson.dumps(item(stored)))


ACCESS: web.AppKey[Access] = web.AppKey("access")
STORE: web.AppKey[ConsoleStore] = web.AppKey("store")
DECIDING: web.AppKey[Deciding] = web.AppKey("deciding")
VIEWING: web.AppKey[Viewing] = web.AppKey("viewing")
CALLER: web.RequestKey[Caller] = web.RequestKey("caller")
NEW_SESSION: web.RequestKey[Session] = web.RequestKey("new_session")


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(kind: type[web.HTTPError], message: str, **headers: str) -> web.HTTPError:
    return kind(
        text=orjson.dumps({"error": message}).decode(),
        content_type="application/json",
        headers=headers,
    )


def _unauthorised() -> web.HTTPError:
    return _error(
        web.HTTPUnauthorized,
        "401 Unauthorized: the review console needs a user. Open /?token=TOKEN in the browser "
        "once, or send 'Authorization: Bearer TOKEN' (postwatch alerts users add makes one).",
        **{"WWW-Authenticate": "Bearer"},
    )


def _over_https(request: web.Request) -> bool:
    """Whether the browser reached the console over HTTPS: this connection, or, when the
    proxy in front is trusted, the last `X-Forwarded-Proto` value (the one that proxy added; a
    client may have sent earlier ones itself)."""
    if request.secure:
        return True
    if not request.app[ACCESS].trust_proxy:
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    return forwarded.rpartition(",")[2].strip().lower() == "https"


def _set_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    secure = request.app[ACCESS].secure_cookie or _over_https(request)
    response.set_cookie(
        COOKIE, session.id, httponly=True, samesite="Strict", secure=secure, path="/"
    )


async def _by_token(access: Access, token: str) -> User | None:
    if access.directory is None:
        return None
    # scrypt takes tens of milliseconds: not on the loop that serves every other request, and
    # a few at a time, so that a flood of guesses cannot take every core
    async with access.checks:
        return await asyncio.to_thread(access.directory.by_token, token)


def _user(access: Access, name: str) -> User | None:
    return access.directory.get(name) if access.directory is not None else None


async def _caller(request: web.Request) -> Caller:
    """Who makes this request: the proxy's user (when believed and named), a bearer token's,
    or the session's. Raises 401, or 403 for a proxy user without a role."""
    access = request.app[ACCESS]
    cookie = request.cookies.get(COOKIE)
    if access.proxy_header and (name := request.headers.get(access.proxy_header, "").strip()):
        if not NAME.fullmatch(name):
            raise _unauthorised()
        listed = _user(access, name)
        role = listed.role if listed is not None else access.proxy_role
        if role is None:
            raise _error(
                web.HTTPForbidden,
                f"403 Forbidden: {name} is signed in, but is no user of the review console",
            )
        session = access.sessions.get(cookie)
        if session is None or session.via != "proxy" or session.user != name:
            session = access.sessions.start(name, "proxy", "")
            request[NEW_SESSION] = session
        return Caller(name, role, session)
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = await _by_token(access, header.removeprefix("Bearer ").strip())
        if user is None:
            raise _unauthorised()
        return Caller(user.name, user.role, None)
    session = access.sessions.get(cookie)
    if session is not None and session.via == "token":
        user = _user(access, session.user)
        # a user removed, or given a new token, is signed out
        if user is not None and user.token_hash == session.credential:
            return Caller(user.name, user.role, session)
    raise _unauthorised()


@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    access = request.app[ACCESS]
    if request.path == "/" and "token" in request.query and request.method == "GET":
        user = await _by_token(access, request.query["token"])
        if user is None or user.token_hash is None:
            raise _unauthorised()
        found = web.HTTPSeeOther("/")
        _set_cookie(request, found, access.sessions.start(user.name, "token", user.token_hash))
        raise found
    request[CALLER] = await _caller(request)
    response = await handler(request)
    # a proxy user's new session; the event stream, sent already, is never the first request
    if (session := request.get(NEW_SESSION)) is not None and not response.prepared:
        _set_cookie(request, response, session)
    return response


async def _on_prepare(_request: web.Request, response: web.StreamResponse) -> None:
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


async def _me(request: web.Request) -> web.Response:
    caller = request[CALLER]
    return _json(
        {
            "user": caller.user,
            "role": caller.role,
            "csrf": caller.session.csrf if caller.session else None,
            "may_decide": may(caller.role, "reviewer") and caller.session is not None,
            "verdicts": VERDICTS,
            "note_max": NOTE_MAX,
        }
    )


def _search(request: web.Request, query: Query) -> list[dict[str, Any]]:
    try:
        return [item(stored) for stored in request.app[STORE].search(query)]
    except StoreError as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from exc


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(_QUEUE_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise _error(web.HTTPBadRequest, f"limit is a whole number from 1 to 1000: {raw!r}")
    return int(raw)


async def _queue(request: web.Request) -> web.Response:
    """The alerts that pass the filters, undecided first, newest first within each."""
    params = request.query
    severity = params.get("severity") or None
    if severity is not None and severity.upper() not in Severity.__members__:
        raise _error(web.HTTPBadRequest, f"not a severity: {severity!r}")
    kind = params.get("kind") or None
    if kind is not None and kind not in ALERT_KINDS:
        raise _error(web.HTTPBadRequest, f"not a kind of alert: {kind!r}")
    verdict = params.get("verdict") or None
    if verdict is not None and verdict not in (*get_args(Verdict), UNDECIDED):
        raise _error(web.HTTPBadRequest, f"not a verdict: {verdict!r}")
    query = Query(
        rule=params.get("rule") or None,
        source=params.get("source") or None,
        kind=kind,
        verdict=cast("Verdict | None", verdict),
        min_severity=Severity[severity.upper()] if severity else None,
        limit=_limit(request),
        undecided_first=True,
    )
    return _json({"alerts": _search(request, query)})


def _stored_or_404(request: web.Request) -> Stored:
    alert_id = request.match_info["alert_id"]
    stored = request.app[STORE].get(alert_id)
    if stored is None:
        raise _error(web.HTTPNotFound, f"no alert {alert_id} in the store")
    return stored


async def _alert(request: web.Request) -> web.Response:
    """An alert, the author's other alerts, and the original of a reappearance: the alert
    that taught it when the evidence names one, else the alerts on the original post (among
    the last thousand of its author)."""
    stored = _stored_or_404(request)
    store, alert = request.app[STORE], stored.alert
    by_author = store.search(Query(author=alert.post.author.id, limit=_CONTEXT_LIMIT + 1))
    originals: dict[str, Stored] = {}
    for evidence in alert.evidence:
        if evidence.original_alert_id and (found := store.get(evidence.original_alert_id)):
            originals[found.alert.alert_id] = found
        elif evidence.original_post_id and evidence.original_author_id:
            for found in store.search(Query(author=evidence.original_author_id, limit=1000)):
                if found.alert.post.id == evidence.original_post_id:
                    originals[found.alert.alert_id] = found
    return _json(
        {
            "alert": item(stored),
            "author": [item(s) for s in by_author if s.alert.alert_id != alert.alert_id][
                :_CONTEXT_LIMIT
            ],
            "originals": [
                item(s) for s in originals.values() if s.alert.alert_id != alert.alert_id
            ],
        }
    )


async def _media(request: web.Request) -> web.Response:
    """The image of one media item of an alert's post, fetched now (nothing is kept)."""
    stored = _stored_or_404(request)
    urls = stored.alert.post.media or ()
    try:
        url = urls[int(request.match_info["index"])]
    except (ValueError, IndexError):
        raise _error(web.HTTPNotFound, "the alert's post has no such media item") from None
    fetcher = request.app[VIEWING].fetcher
    if fetcher is None:
        raise _error(web.HTTPServiceUnavailable, "the console is starting")
    try:
        body = await fetcher.download(url)
    except MediaError as exc:
        raise _error(web.HTTPBadGateway, f"the image could not be fetched ({exc})") from None
    found = sniff(body[:16])
    if found is None or found.kind != "image":
        raise _error(web.HTTPBadGateway, "what the URL gave is no image")
    return web.Response(body=body, content_type=found.mime_types[0])


async def _pivot(request: web.Request) -> web.Response:
    given = {name: request.query[name] for name in _PIVOTS if request.query.get(name)}
    if len(given) != 1:
        raise _error(web.HTTPBadRequest, f"pivot on one of {', '.join(_PIVOTS)}")
    query = Query(
        author=given.get("author"),
        hash=given.get("hash"),
        fingerprint=given.get("fingerprint"),
        domain=given.get("domain"),
        limit=_limit(request),
    )
    return _json({"alerts": _search(request, query)})


async def _rules(request: web.Request) -> web.Response:
    """How each rule, and each bank entry, did since `since` (all alerts when not given)."""
    since = request.query.get("since", "")
    try:
        moment = parse_since(since) if since else None
    except BadSince as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from None
    stats = await asyncio.to_thread(request.app[STORE].rule_stats, moment)
    return _json(
        {
            "rules": [
                {
                    "rule": s.rule,
                    "entry": s.entry,
                    "alerts": s.alerts,
                    "per_day": round(s.per_day, 2),
                    "confirmed": s.confirmed,
                    "false_positives": s.false_positives,
                    "escalated": s.escalated,
                    "decided_share": round(s.decided_share, 3),
                    "precision": None if s.precision is None else round(s.precision, 3),
                }
                for s in stats
            ]
        }
    )


async def _users(request: web.Request) -> web.Response:
    if not may(request[CALLER].role, "admin"):
        raise _error(web.HTTPForbidden, "403 Forbidden: only an admin sees the users")
    directory = request.app[ACCESS].directory
    users = directory.users().values() if directory is not None else ()
    return _json(
        {"users": [{"name": u.name, "role": u.role, "token": bool(u.token_hash)} for u in users]}
    )


def _check_csrf(caller: Caller, request: web.Request) -> None:
    """A decision needs a reviewer's role, a session, and that session's CSRF token."""
    if not may(caller.role, "reviewer"):
        raise _error(web.HTTPForbidden, f"403 Forbidden: {caller.user} is a {caller.role}")
    if caller.session is None:
        raise _error(
            web.HTTPForbidden,
            "403 Forbidden: decisions are made in a signed-in console, or with "
            "`postwatch alerts decide`",
        )
    offered = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(offered, caller.session.csrf.encode()):
        raise _error(web.HTTPForbidden, "403 Forbidden: missing or wrong CSRF token")


async def _decision(request: web.Request) -> web.Response:
    """Record a verdict on an alert in the caller's name; the alert with it in answer."""
    caller = request[CALLER]
    _check_csrf(caller, request)
    stored = _stored_or_404(request)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise _error(web.HTTPBadRequest, f"the body is no JSON: {exc}") from exc
    if not isinstance(body, dict):
        body = {}
    verdict, note = body.get("verdict"), body.get("note", "")
    if verdict not in VERDICTS or not isinstance(note, str):
        raise _error(
            web.HTTPBadRequest, f'send {{"verdict": one of {", ".join(VERDICTS)}, "note": text}}'
        )
    if verdict == "note" and not note.strip():
        raise _error(web.HTTPBadRequest, "a note needs its text")
    decider = request.app[DECIDING].decider
    if decider is None:
        raise _error(web.HTTPServiceUnavailable, "the console is starting: try again")
    try:
        decided = await decider.decide(stored.alert, verdict, caller.user, note)
    except ValueError as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from exc
    except Exception as exc:  # the broker failed: the page says so, nothing was recorded
        log.exception("serve.decide_failed", alert_id=stored.alert.alert_id)
        raise _error(web.HTTPBadGateway, f"the decision was not recorded: {exc}") from exc
    log.info("serve.decided", alert_id=stored.alert.alert_id, verdict=verdict, user=caller.user)
    store = request.app[STORE]
    store.decide([decided.decision])  # at once, not when the topic brings it back
    answer = store.get(stored.alert.alert_id)
    learned = None if decided.learned is None else [e.kind for e in decided.learned]
    return _json({"alert": item(answer or stored), "learned": learned}, status=201)


def _event(event: str, data: bytes) -> bytes:
    # JSON from orjson is one line: a newline would end the event early
    return b"event: %s\ndata: %s\n\n" % (event.encode(), data)


async def _events(request: web.Request) -> web.StreamResponse:
    """The events of the store as they come, until the page goes, its user is signed out
    (checked at every keep-alive), or it falls behind (it reconnects and loads again)."""
    store = request.app[STORE]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    with store.events.listen() as listener:
        await response.write(b"retry: 2000\n\n")
        while not listener.dropped:
            try:
                event, data = await asyncio.wait_for(listener.queue.get(), _KEEPALIVE_S)
            except TimeoutError:
                try:
                    await _caller(request)
                except web.HTTPException:
                    break
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(_event(event, data))
    return response


def create_web_app(
    access: Access, store: ConsoleStore, deciding: Deciding, viewing: Viewing | None = None
) -> web.Application:
    """The review console on `store`, behind `access`; decisions go through `deciding`,
    images are fetched by `viewing` (none: 503)."""
    app = web.Application(middlewares=[_guard])
    app[ACCESS] = access
    app[STORE] = store
    app[DECIDING] = deciding
    app[VIEWING] = viewing or Viewing()
    app.on_response_prepare.append(_on_prepare)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/events", _events)
    app.router.add_get("/api/me", _me)
    app.router.add_get("/api/queue", _queue)
    app.router.add_get("/api/alerts/{alert_id}", _alert)
    app.router.add_get("/api/pivot", _pivot)
    app.router.add_get("/api/users", _users)
    app.router.add_get("/api/rules", _rules)
    app.router.add_get("/api/media/{alert_id}/{index}", _media)
    app.router.add_post("/api/alerts/{alert_id}/decision", _decision)
    return app


async def _follow(settings: Settings, store: ConsoleStore) -> None:
    """Fill the store from the topics for as long as the server runs (again after a broker
    failure: what is held already is kept once); once caught up, tell the pages to load."""
    while True:
        ready = asyncio.Event()
        caught_up = asyncio.create_task(_live_once(ready, store))
        try:
            await follow(settings, store, ready)
        except asyncio.CancelledError:
            raise
        except AlertsError as exc:
            log.warning("serve.follow_failed", error=str(exc))
        except Exception:  # any broker failure: log it and read again shortly
            log.exception("serve.follow_failed")
        finally:
            caught_up.cancel()
        await asyncio.sleep(_RETRY_S)


async def _live_once(ready: asyncio.Event, store: ConsoleStore) -> None:
    """Once the store has caught up with the topics, tell the pages of what comes, and
    have those already open load the queue again."""
    await ready.wait()
    if not store.live:
        store.live = True
        log.info("serve.ready", alerts=store.count)
        store.events.publish("reload", b"{}")


def run_server(
    settings: Settings,
    access: Access,
    *,
    host: str,
    port: int,
    metrics_port: int = 0,
    media_private: bool = False,
) -> None:
    """Serve the review console until SIGINT or SIGTERM; with `metrics_port`, rule quality
    for Prometheus on that port (`postwatch.alerts.quality`); images of posts from private
    addresses too with `media_private`."""
    store = ConsoleStore(Events(), settings.store_path or ":memory:")
    if metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

        from postwatch.alerts.quality import RuleQualityCollector  # noqa: PLC0415

        registry = CollectorRegistry()
        registry.register(RuleQualityCollector(store))
        start_http_server(metrics_port, addr=settings.metrics_host, registry=registry)
    deciding, viewing = Deciding(), Viewing()
    app = create_web_app(access, store, deciding, viewing)

    async def running(_app: web.Application) -> AsyncIterator[None]:
        following = asyncio.create_task(_follow(settings, store))
        async with Decider(settings) as decider, media_fetcher(media_private) as fetcher:
            deciding.decider, viewing.fetcher = decider, fetcher
            yield
            deciding.decider, viewing.fetcher = None, None
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following

    app.cleanup_ctx.append(running)
    log.info("serve.listening", host=host, port=port)
    web.run_app(app, host=host, port=port, print=None, access_log=None, shutdown_timeout=2.0)
