"""The webhook connector: an HTTP endpoint where platforms push posts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from aiohttp import web

from postwatch.connectors.base import Cursor, Runtime
from postwatch.connectors.options import BadOption, Given, option
from postwatch.connectors.webhook.auth import SIGNATURE, TIMESTAMP, TOLERANCE, Auth, Verdict

__all__ = ["ERRORS_LISTED", "NDJSON_TYPES", "WebhookConnector"]

MAX_BYTES = 1024 * 1024
"""The largest request body accepted, unless told otherwise."""

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
"""Content types read as one post per line; anything else is one JSON document."""

_LINES_PER_TURN = 1000
"""Lines handled between two turns of the event loop, so that a body of a million bad lines
keeps no other sender waiting."""

ERRORS_LISTED = 100
"""Bad lines an answer lists (and the log shows as warnings) by number; the others are only
counted, so that a body of half a million bad lines gets a short answer, not 64 MB."""
_ERROR_CHARS = 300
"""Longest error message given for a line (a schema's message may quote the value)."""


@dataclass(frozen=True, kw_only=True)
class WebhookOptions:
    """Accept pushed posts over HTTP."""

    listen: str = option("HOST:PORT to serve POST /v1/posts on.", default="127.0.0.1:8080")
    token: tuple[str, ...] = option(
        "Accepted bearer token (repeat to rotate; in the environment, separated by spaces)",
        default=(),
        envvar="POSTWATCH_WEBHOOK_TOKENS",
        secret=True,
    )
    hmac_secret: str | None = option(
        "Shared secret of the HMAC-SHA256 signature",
        default=None,
        envvar="POSTWATCH_WEBHOOK_HMAC_SECRET",
        secret=True,
    )
    max_bytes: int = option(
        "Largest request body accepted (413 above).", default=MAX_BYTES, minimum=1
    )
    tolerance: float = option(
        "Seconds a signed timestamp may differ from now.", default=TOLERANCE, minimum=1
    )


class WebhookConnector:
    """Serves `POST /v1/posts`: one Post v1 (JSON) or many (NDJSON, one per line).

    Answers, in the order they are checked:
    401 without the configured credentials (bearer token, HMAC signature), 403 with wrong
    or stale ones, 413 over `max_bytes`, then 202 `{"accepted", "rejected": 0}` once the
    broker acknowledged every post, or 400 with the same counts and `errors` listing the
    first `ERRORS_LISTED` bad lines by number (`{"line", "reason", "error"}`), and
    `errors_not_listed` how many more there were, while the good lines are produced all
    the same. 503 if the broker did not acknowledge. Pushes carry no cursor.

    Reasons: `not_json` (not JSON, not UTF-8, or an empty JSON body; blank NDJSON lines are
    skipped), `schema` (not a Post v1), `too_deep` (arrays and objects nested deeper than
    254 levels), `too_large` (a post bigger than the broker takes in one record).
    """

    source: ClassVar[str] = "webhook"
    options: ClassVar[type[WebhookOptions]] = WebhookOptions

    def __init__(
        self,
        host: str,
        port: int,
        *,
        auth: Auth,
        max_bytes: int = MAX_BYTES,
        instance: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.instance = instance or f"{self.source}:{host}:{port}"
        self.auth = auth
        self.max_bytes = max_bytes
        self.bound_port: int | None = None
        """The port actually listened on once running (differs from `port` when it is 0)."""

    @classmethod
    def from_options(cls, given: Given[WebhookOptions]) -> WebhookConnector:
        options = given.options
        host, _, port = options.listen.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()):  # "²" is a digit to isdigit
            raise BadOption("--listen", "expected HOST:PORT")
        if not options.token and not options.hmac_secret:
            given.warn("no --token and no --hmac-secret: anyone can push posts")
        auth = Auth(
            tokens=options.token,
            secret=options.hmac_secret.encode("utf-8") if options.hmac_secret else None,
            tolerance=options.tolerance,
        )
        return cls(host, int(port), auth=auth, max_bytes=options.max_bytes, instance=given.instance)

    def restore(self, cursor: Cursor) -> None:
        """Nothing to restore: a pushing platform retries what was not acknowledged."""

    def snapshot(self) -> Cursor:
        return {}

    async def run(self, runtime: Runtime) -> None:
        async def receive(request: web.Request) -> web.Response:
            return await self._receive(request, runtime)

        app = web.Application(client_max_size=self.max_bytes)
        app.router.add_post("/v1/posts", receive)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self.bound_port = int(runner.addresses[0][1])
            runtime.log.info(
                "webhook.listening", host=self.host, port=self.bound_port, open=self.auth.open
            )
            await runtime.stopping.wait()
        finally:
            await runner.cleanup()

    async def _receive(self, request: web.Request, runtime: Runtime) -> web.Response:
        admitted = await self._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        if request.content_type in NDJSON_TYPES:
            lines = [(n, line) for n, line in enumerate(admitted.split(b"\n"), 1) if line.strip()]
        else:
            lines = [(1, admitted)]
        outcome = await self._produce(lines, runtime)
        try:
            await runtime.flush()
        except Exception as exc:  # any broker fault means the same to the sender: try again
            runtime.log.warning("webhook.not_acknowledged", error=repr(exc))
            return web.json_response({"error": "the broker did not acknowledge"}, status=503)
        return web.json_response(outcome.answer(), status=400 if outcome.rejected else 202)

    async def _admit(self, request: web.Request) -> bytes | web.Response:
        """The body of an authorised request within the size limit, else the refusal."""
        verdict = self.auth.check_token(request.headers.get("Authorization"))
        if verdict is not Verdict.OK:
            return _refused(verdict, "bearer token")
        if (request.content_length or 0) > self.max_bytes:
            return _too_large(self.max_bytes)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(self.max_bytes)
        verdict = self.auth.check_signature(
            request.headers.get(TIMESTAMP), request.headers.get(SIGNATURE), body, time.time()
        )
        if verdict is not Verdict.OK:
            return _refused(verdict, "signature")
        return body

    async def _produce(self, lines: list[tuple[int, bytes]], runtime: Runtime) -> _Outcome:
        """Queue every good line; the outcome counts them and the bad ones."""
        outcome = _Outcome()

        def reject(number: int, reason: str, error: str) -> None:
            listed = outcome.refused(number, reason, error)
            runtime.skip(reason, quiet=not listed, line=number, error=error[:_ERROR_CHARS])

        for count, (number, line) in enumerate(lines, start=1):
            if count % _LINES_PER_TURN == 0:
                await asyncio.sleep(0)  # bad lines never await: let other requests in
            runtime.event()
            try:
                post = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reject(number, "not_json", str(exc))
                continue
            if not isinstance(post, dict):
                reject(number, "schema", "not an object")
                continue
            invalid = await runtime.emit(post)  # which counts and logs an invalid post
            if invalid is None:
                outcome.accepted += 1
            else:
                outcome.refused(number, invalid.reason, invalid.error)
        return outcome


@dataclass
class _Outcome:
    """What became of the lines of one request."""

    accepted: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    """The first `ERRORS_LISTED` bad lines."""

    def refused(self, number: int, reason: str, error: str) -> bool:
        """Count a bad line; whether it is one of those listed."""
        self.rejected += 1
        if len(self.errors) == ERRORS_LISTED:
            return False
        self.errors.append({"line": number, "reason": reason, "error": error[:_ERROR_CHARS]})
        return True

    def answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"accepted": self.accepted, "rejected": self.rejected}
        if self.errors:
            answer["errors"] = self.errors
        if self.rejected > len(self.errors):
            answer["errors_not_listed"] = self.rejected - len(self.errors)
        return answer


def _refused(verdict: Verdict, what: str) -> web.Response:
    if verdict is Verdict.MISSING:
        return web.json_response(
            {"error": f"{what} required"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="postwatch"'},
        )
    return web.json_response({"error": f"{what} not accepted"}, status=403)


def _too_large(limit: int) -> web.Response:
    return web.json_response({"error": f"body over {limit} bytes"}, status=413)
