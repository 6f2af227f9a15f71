"""The X connector: the API v2 filtered stream, with its rules kept as a file says."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import orjson

from postwatch.connectors.base import (
    Cursor,
    MalformedEvent,
    RecentKeys,
    Runtime,
    SourceRejected,
    SourceUnavailable,
    parse_time,
)
from postwatch.connectors.http import MAX_RETRY_AFTER_S, check_status, read_bounded, retry_after
from postwatch.connectors.options import BadOption, Given, option
from postwatch.connectors.streaming import keep_streaming
from postwatch.connectors.x.adapter import payload_to_post
from postwatch.connectors.x.client import (
    RULES_PATH,
    STREAM_PATH,
    STREAM_QUERY,
    LineDecoder,
    Pace,
    Rule,
    RuleFileError,
    plan_rules,
    read_rules,
)

__all__ = ["XConnector"]

_TOO_MANY_REQUESTS = 429
URL = "https://api.x.com"
"""Where the X API v2 is served."""
STALL_TIMEOUT = 30.0
"""Seconds without a byte (X sends blank keep-alive lines) before the stream is taken as dropped."""
REMEMBER = 5000
"""Post ids kept to drop what a reconnection's backfill repeats."""


@dataclass(frozen=True, kw_only=True)
class XOptions:
    """Follow the X API v2 filtered stream."""

    bearer_token: str = option(
        "The app's bearer token", envvar="POSTWATCH_X_BEARER_TOKEN", secret=True
    )
    url: str = option("Base URL of the X API.", default=URL)
    rules: Path | None = option(
        "YAML list of stream rules (a value, or value and tag) to put in place of the "
        "current ones; without it the rules are left as they are.",
        default=None,
    )
    backfill_minutes: int = option(
        "Minutes X replays after a reconnection (on the plans that offer it).",
        default=0,
        minimum=0,
        maximum=5,
    )


class XConnector:
    """Reads the filtered stream (`GET /2/tweets/search/stream`) and produces its posts.

    With `rules`, the stream's rules are first made exactly those: the rules in place are
    read, the missing ones validated (`dry_run`), the ones no longer listed deleted and the
    missing ones added; X refusing a rule stops the connector with X's reasons, before
    anything was changed. Without `rules`, the rules in place are left alone.

    Lines are newline-delimited JSON; blank lines are keep-alives, and a stream silent for
    `STALL_TIMEOUT` seconds is taken as dropped. A line that is not JSON (cut short, say)
    is counted and skipped; an `errors` line (X's notice before it disconnects) is logged.
    Reconnections follow X's documented pace for each kind of error (`Pace`). The same post
    delivered twice (`backfill_minutes` replays the minutes before a reconnection, on the
    plans that offer it) is produced once: the cursor keeps the latest post ids.
    """

    source: ClassVar[str] = "x"
    options: ClassVar[type[XOptions]] = XOptions

    def __init__(
        self,
        bearer_token: str,
        *,
        url: str = URL,
        rules: Sequence[Rule] | None = None,
        backfill_minutes: int = 0,
        instance: str = "x",
        pace: Pace | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.instance = instance
        self.rules = None if rules is None else tuple(rules)
        self._token = bearer_token
        self._backfill = backfill_minutes
        self._pace = pace or Pace()
        self._timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=STALL_TIMEOUT)
        self._seen = RecentKeys(REMEMBER)

    @classmethod
    def from_options(cls, given: Given[XOptions]) -> XConnector:
        options = given.options
        try:
            rules = None if options.rules is None else read_rules(options.rules)
        except RuleFileError as exc:
            raise BadOption("--rules", str(exc)) from exc
        return cls(
            options.bearer_token,
            url=options.url,
            rules=rules,
            backfill_minutes=options.backfill_minutes,
            instance=given.instance or cls.source,
        )

    def restore(self, cursor: Cursor) -> None:
        self._seen = RecentKeys(REMEMBER, cursor.get("seen", ()))

    def snapshot(self) -> Cursor:
        return {"seen": self._seen.keys()}

    async def run(self, runtime: Runtime) -> None:
        rules = self.rules
        query = dict(STREAM_QUERY)
        if self._backfill:
            query["backfill_minutes"] = str(self._backfill)

        @contextlib.asynccontextmanager
        async def connect(http: aiohttp.ClientSession) -> AsyncIterator[aiohttp.ClientResponse]:
            nonlocal rules
            if rules is not None:
                await self._sync_rules(http, runtime, rules)
                rules = None  # in place: reconnections leave them alone
            async with http.get(
                self.url + STREAM_PATH, params=query, headers=self._auth()
            ) as response:
                _check(response, "stream")
                runtime.log.info("x.connected")
                yield response

        await keep_streaming(runtime, self._timeout, connect, self._read, pace=self._pace.wait)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def _sync_rules(
        self, http: aiohttp.ClientSession, runtime: Runtime, rules: Sequence[Rule]
    ) -> None:
        async with http.get(self.url + RULES_PATH, headers=self._auth()) as response:
            _check(response, "rules")
            current = (await _json(response, "rules")).get("data") or []
        changes = plan_rules(current, rules)
        added = {
            "add": [{"value": r.value, **({"tag": r.tag} if r.tag else {})} for r in changes.add]
        }
        if changes.add:  # checked before anything changes, so a refusal leaves the rules be
            await self._change_rules(http, added, dry_run=True)
        if changes.delete:
            await self._change_rules(http, {"delete": {"ids": list(changes.delete)}})
        if changes.add:
            await self._change_rules(http, added)
        runtime.log.info(
            "x.rules_synced",
            added=len(changes.add),
            deleted=len(changes.delete),
            rules=len(rules),
        )

    async def _change_rules(
        self, http: aiohttp.ClientSession, body: dict[str, Any], *, dry_run: bool = False
    ) -> None:
        """Send one change; with `dry_run`, X only validates it."""
        async with http.post(
            self.url + RULES_PATH,
            params={"dry_run": "true"} if dry_run else {},
            data=orjson.dumps(body),
            headers=self._auth() | _JSON,
        ) as response:
            if response.status == 400:
                raise SourceRejected(f"rules: X refused them: {_errors(await _json(response))}")
            _check(response, "rules")
            answer = await _json(response, "rules")
        refused = [
            e for e in _error_objects(answer) if e.get("title") != "DuplicateRule"
        ]  # a rule already in place is what was wanted
        if refused:
            raise SourceRejected(f"rules: X refused them: {_errors({'errors': refused})}")

    async def _read(self, response: aiohttp.ClientResponse, runtime: Runtime) -> None:
        decoder = LineDecoder()
        while True:
            chunk = await runtime.interruptible(response.content.readany())
            if not chunk:
                rest = decoder.rest()
                if rest:
                    runtime.event()
                    runtime.skip("truncated", bytes=len(rest))
                return
            for line in decoder.feed(chunk):
                await self._on_line(line, runtime)

    async def _on_line(self, line: bytes | None, runtime: Runtime) -> None:
        if line is None:
            runtime.event()
            runtime.skip("too_long")
            return
        try:
            payload = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            runtime.event()
            runtime.skip("not_json", error=str(exc), bytes=len(line))
            return
        if not isinstance(payload, dict) or "data" not in payload:
            runtime.event()
            if isinstance(payload, dict) and payload.get("errors"):
                runtime.skip("stream_error", error=_errors(payload))
            else:
                runtime.skip("not_a_post", quiet=True)
            return
        try:
            post = payload_to_post(payload)
        except MalformedEvent as exc:
            runtime.event()
            runtime.skip(exc.reason, error=exc.detail)
            return
        runtime.event(parse_time(post["created_at"]))
        if post["id"] in self._seen:
            runtime.skip("duplicate", quiet=True, post_id=post["id"])
            return
        if await runtime.emit(post) is None:
            self._seen.add(post["id"])


_JSON = {"Content-Type": "application/json"}


def _check(response: aiohttp.ClientResponse, what: str) -> None:
    """`check_status`, with X's own rate-limit header: a 429 waits at least until
    `x-rate-limit-reset` (Unix seconds)."""
    if response.status == _TOO_MANY_REQUESTS:
        wait = retry_after(response.headers.get("Retry-After")) or 0.0
        reset = response.headers.get("x-rate-limit-reset", "")
        if reset.isascii() and reset.isdigit():  # "²" is a digit to isdigit, not to float
            wait = min(max(wait, float(reset) - time.time()), MAX_RETRY_AFTER_S)
        raise SourceUnavailable(f"{what}: HTTP 429", reason="rate_limited", retry_after=wait)
    check_status(response, what)


async def _json(response: aiohttp.ClientResponse, what: str = "rules") -> dict[str, Any]:
    try:
        body = orjson.loads(await read_bounded(response, what))
    except orjson.JSONDecodeError as exc:
        raise SourceUnavailable(f"{what}: not JSON: {exc}", reason="bad_response") from exc
    if not isinstance(body, dict):
        raise SourceUnavailable(f"{what}: not a JSON object", reason="bad_response")
    return body


def _error_objects(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of X's `errors` array (anything else in it, or in its place, ignored)."""
    errors = body.get("errors")
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _errors(body: dict[str, Any]) -> str:
    """X's error objects in one line: title, detail and the rule value they concern (their
    strings only: another value could be nested too deep to print)."""
    return "; ".join(
        " ".join(e[k] for k in ("title", "detail", "value") if isinstance(e.get(k), str) and e[k])
        for e in _error_objects(body)
    )
