"""`postwatch alerts forward`: alerts to webhooks, as generic JSON or as Slack messages.

A destination is written `KIND:MIN_SEVERITY:URL`, e.g. `json:info:https://soc.example/hook`
or `slack:high:https://hooks.slack.com/services/…`. `json` posts the Alert v1 record as
produced; `slack` posts a message that Slack's incoming webhooks (and the chat tools that
copy their format) take. Each destination gets the alerts at or above its severity; alerts
of shadow rules only with `include_shadow`. An alert a reviewer escalates (an `escalate`
decision) is sent again one severity higher, under an id of its own, so it reaches the
destinations kept for the higher severities.

Delivery is at least once: the forwarder reads in its own consumer group and commits an
alert only when every destination has taken it or its failure is on the dead-letter topic
(reason `delivery_failed`, the destination without its URL path, the alert's bytes).
Connection errors, time-outs, 408, 429 and 5xx are retried with exponential backoff (a
`Retry-After` is honoured up to the backoff cap); other answers are final at once, redirects
too: they are not followed (a webhook that moves is a configuration to change, and a POST
sent on to wherever a server points is not what was configured).

A webhook URL holds its secret in its path, query or credentials: nothing logged, dead-lettered
or printed names more of it than scheme, host and port, error messages included.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
import structlog

from postwatch.alerts import BadDestination
from postwatch.alerts.feed import AlertRecord, Start, read_alerts
from postwatch.alerts.filters import evidence, section, severity_of
from postwatch.console import printable
from postwatch.kafka.clients import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition, new_producer
from postwatch.kafka.deadletter import dead_letter
from postwatch.kafka.topics import DEADLETTER, ensure_topics
from postwatch.rules import Severity
from postwatch.settings import Settings

__all__ = ["Destination", "RetryPolicy", "deliver", "forward", "slack_message"]

log = structlog.get_logger(__name__)

Kind = Literal["json", "slack"]
_KINDS: tuple[Kind, ...] = ("json", "slack")
_RETRIED = frozenset({408, 429})
_SLACK_TEXT_MAX = 2900  # a section block takes 3000 characters
# A URL in a message: its scheme, its authority (up to the path; a backslash ends it too, as
# browsers read it), and the rest up to the next space, quotes included: an error that quotes
# a URL puts a quote after it, but a path may hold one too.
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\\\s]*)\S*")
# what a link in a Slack message keeps as it is; the rest (`<`, `>`, `|`, spaces) is encoded
_LINK_SAFE = ":/?#[]@!$&'()*+,;=%~"


def _without_secrets(text: str) -> str:
    """`text` with every URL in it cut back to scheme, host and port (no credentials, path
    or query)."""
    return _URL.sub(lambda found: f"{found[1]}://{found[2].rpartition('@')[2]}", text)


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook and what it gets."""

    kind: Kind
    min_severity: Severity
    url: str

    @classmethod
    def parse(cls, spec: str) -> Destination:
        """`KIND:MIN_SEVERITY:URL`; raises BadDestination saying what is wrong, without
        repeating more of `spec` than a kind and a severity it knows."""
        kind, _, rest = spec.partition(":")
        severity, _, url = rest.partition(":")
        if kind not in _KINDS:
            raise BadDestination(
                f"a destination is KIND:MIN_SEVERITY:URL, with kind one of {', '.join(_KINDS)}"
            )
        if severity.upper() not in Severity.__members__:
            raise BadDestination(
                f"{kind}:…: minimum severity must be one of " + ", ".join(s.label for s in Severity)
            )
        try:
            parts = urlsplit(url)
            # .port raises ValueError for a port that is not one
            usable = parts.scheme in {"http", "https"} and bool(parts.hostname) and parts.port != 0
        except ValueError:
            usable = False
        if not usable:
            raise BadDestination(f"{kind}:{severity}:…: the URL must be http(s)://host[:port]/…")
        return cls(kind, Severity[severity.upper()], url)

    @property
    def label(self) -> str:
        """The destination as logs and dead letters name it: scheme, host and port of its URL
        (webhook URLs carry their secret in the rest)."""
        return f"{self.kind}:{self.min_severity.label}:{_without_secrets(self.url)}"

    def wants(self, alert: dict[str, Any], include_shadow: bool) -> bool:
        if alert.get("shadow") and not include_shadow:
            return False
        return severity_of(alert) >= self.min_severity

    def body(self, record: AlertRecord) -> bytes:
        if self.kind == "slack":
            return orjson.dumps(slack_message(record.alert))
        return record.value


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` tries in all, waiting `backoff_s`, then twice that, … up to `max_backoff_s`."""

    attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        wait = self.backoff_s * 2.0**attempt
        if retry_after is not None and retry_after.strip().isdigit():
            wait = max(wait, float(retry_after))
        return min(wait, self.max_backoff_s)


def _mrkdwn(value: object) -> str:
    """`value` as Slack text: its `&`, `<` and `>` escaped as Slack asks, so that a post
    cannot make a mention (`<!channel>`) or a link of its own."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _web_link(url: object) -> str | None:
    """`url` as the target of a Slack link when it is http(s) with a host, its `<`, `>`,
    `|` and spaces percent-encoded; None for anything else."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return quote(url, safe=_LINK_SAFE)


def slack_message(alert: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: a `text` fallback and mrkdwn blocks, everything
    from the alert escaped; parts in shapes Alert v1 does not have go in as far as they go."""
    rule, post = section(alert, "rule"), section(alert, "post")
    author = section(post, "author")
    who = author.get("handle") or author.get("id", "?")
    severity = str(rule.get("severity", "info")).upper()
    headline = f"[{severity}] {rule.get('id', '?')} {rule.get('title', '')}".rstrip()
    if alert.get("kind") == "summary":
        headline += f" (collapsed {alert.get('suppressed_count', '?')} repeats)"
    if alert.get("shadow"):
        headline += " (shadow rule)"
    found = ", ".join(f"{e.get('type')}: {e.get('value')}" for e in evidence(alert))
    lines = [
        f"*{_mrkdwn(headline)}*",
        f"{_mrkdwn(who)} on {_mrkdwn(post.get('source', '?'))}",
        f"> {_mrkdwn(post.get('excerpt', ''))}",
        f"evidence: {_mrkdwn(found)}",
    ]
    link = _web_link(post.get("url"))
    if link:
        lines.append(f"<{link}|open the post>")
    return {
        "text": _mrkdwn(f"{headline} by {who} on {post.get('source', '?')}"),
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "\n".join(lines)[:_SLACK_TEXT_MAX]},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"postwatch alert {_mrkdwn(alert.get('alert_id', '?'))}",
                    }
                ],
            },
        ],
    }


async def deliver(
    session: aiohttp.ClientSession,
    destination: Destination,
    record: AlertRecord,
    policy: RetryPolicy,
) -> str | None:
    """Post one alert to one destination, retrying as the policy says; None once it was
    taken (2xx), else what went wrong on the last attempt (no URL in it but scheme, host and
    port)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"postwatch/{metadata.version('postwatch')}",
        # an id with control characters in it would be refused by the client (or split the
        # header): it goes as `printable` makes it
        "X-Postwatch-Alert-Id": printable(str(record.alert.get("alert_id", ""))),
    }
    body = destination.body(record)
    error = "no attempt made"
    for attempt in range(policy.attempts):
        retry_after = None
        try:
            async with session.post(
                destination.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                error = f"HTTP {response.status}"
                if 300 <= response.status < 400:
                    return f"{error}: redirects are not followed"
                if response.status < 500 and response.status not in _RETRIED:
                    return error
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {_without_secrets(str(exc))}"
        log.info("forward.retry", destination=destination.label, attempt=attempt + 1, error=error)
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt, retry_after))
    return error


async def forward(
    settings: Settings,
    destinations: list[Destination],
    policy: RetryPolicy,
    start: Start,
    *,
    include_shadow: bool = False,
) -> None:
    """Forward alerts, and those reviewers escalate, until cancelled; a new consumer group
    begins at `start`."""
    await ensure_topics(settings, live=True)  # the decisions topic, as its own kind
    producer = new_producer(settings)
    await producer.start()
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
    group = f"{settings.topic_prefix}-forward"
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            read_alerts(settings, start, group=group, escalations=True) as (consumer, records),
        ):
            log.info("forward.started", group=group, destinations=[d.label for d in destinations])
            forwarder = _Forwarder(
                settings, destinations, policy, include_shadow, session, producer, consumer
            )
            async for record in records:
                handling = asyncio.ensure_future(forwarder.handle(record))
                try:
                    await asyncio.shield(handling)
                except asyncio.CancelledError:
                    # told to stop: finish the alert in hand, so that it is committed once
                    # handled and never redelivered to a destination that already took it
                    await handling
                    raise
    finally:
        await producer.stop()


@dataclass(frozen=True, slots=True)
class _Forwarder:
    settings: Settings
    destinations: list[Destination]
    policy: RetryPolicy
    include_shadow: bool
    session: aiohttp.ClientSession
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer

    async def handle(self, record: AlertRecord) -> None:
        """Deliver one alert where it is wanted, dead-letter each failure, then commit."""
        wanted = [d for d in self.destinations if d.wants(record.alert, self.include_shadow)]
        errors = await asyncio.gather(
            *(deliver(self.session, d, record, self.policy) for d in wanted)
        )
        for destination, error in zip(wanted, errors, strict=True):
            alert_id = record.alert.get("alert_id")
            if error is None:
                log.info("forward.delivered", destination=destination.label, alert_id=alert_id)
                continue
            letter = dead_letter(record, "delivery_failed", f"{destination.label}: {error}")
            await self.producer.send_and_wait(
                self.settings.topic(DEADLETTER), letter.encode(), key=record.key
            )
            log.warning(
                "forward.failed", destination=destination.label, alert_id=alert_id, error=error
            )
        partition = TopicPartition(record.topic, record.partition)
        await self.consumer.commit({partition: record.offset + 1})
