"""`postwatch alerts forward`: alerts to webhooks, as generic JSON or as Slack messages.

A destination is written `KIND:MIN_SEVERITY:URL`, e.g. `json:info:https://soc.example/hook`
or `slack:high:https://hooks.slack.com/services/…`. `json` posts the Alert v1 record as
produced; `slack` posts a message that Slack's incoming webhooks (and the chat tools that
copy their format) take. Each destination gets the alerts at or above its severity; alerts
of shadow rules only with `include_shadow`.

Delivery is at least once: the forwarder reads in its own consumer group and commits an
alert only when every destination has taken it or its failure is on the dead-letter topic
(reason `delivery_failed`, the destination without its URL path, the alert's bytes).
Connection errors, time-outs, 408, 429 and 5xx are retried with exponential backoff (a
`Retry-After` is honoured up to the backoff cap); other answers are final at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import orjson
import structlog

from postwatch.alerts import BadDestination
from postwatch.alerts.feed import AlertRecord, Start, read_alerts
from postwatch.alerts.filters import severity_of
from postwatch.kafka.clients import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition, new_producer
from postwatch.kafka.deadletter import dead_letter
from postwatch.kafka.topics import DEADLETTER
from postwatch.rules import Severity
from postwatch.settings import Settings

__all__ = ["Destination", "RetryPolicy", "deliver", "forward", "slack_message"]

log = structlog.get_logger(__name__)

Kind = Literal["json", "slack"]
_KINDS: tuple[Kind, ...] = ("json", "slack")
_RETRIED = frozenset({408, 429})
_SLACK_TEXT_MAX = 2900  # a section block takes 3000 characters


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook and what it gets."""

    kind: Kind
    min_severity: Severity
    url: str

    @classmethod
    def parse(cls, spec: str) -> Destination:
        """`KIND:MIN_SEVERITY:URL`; raises BadDestination saying what is wrong."""
        kind, _, rest = spec.partition(":")
        severity, _, url = rest.partition(":")
        if kind not in _KINDS:
            raise BadDestination(f"{spec!r}: kind must be one of {', '.join(_KINDS)}")
        if severity.upper() not in Severity.__members__:
            raise BadDestination(
                f"{spec!r}: minimum severity must be one of " + ", ".join(s.label for s in Severity)
            )
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise BadDestination(f"{kind}:{severity}:…: the URL must be http(s)://host/…")
        return cls(kind, Severity[severity.upper()], url)

    @property
    def label(self) -> str:
        """The destination as logs and dead letters name it: no URL path (webhook URLs carry
        their secret there)."""
        parts = urlsplit(self.url)
        return f"{self.kind}:{self.min_severity.label}:{parts.scheme}://{parts.netloc}"

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


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: a plain `text` fallback and mrkdwn blocks."""
    rule, post = alert["rule"], alert["post"]
    author = post["author"].get("handle") or post["author"]["id"]
    severity = rule["severity"].upper()
    headline = f"[{severity}] {rule['id']} {rule['title']}"
    if alert.get("kind") == "summary":
        headline += f" (collapsed {alert['suppressed_count']} repeats)"
    if alert.get("shadow"):
        headline += " (shadow rule)"
    evidence = ", ".join(f"{e['type']}: {e['value']}" for e in alert["evidence"])
    lines = [
        f"*{_mrkdwn(headline)}*",
        f"{_mrkdwn(author)} on {_mrkdwn(post['source'])}",
        f"> {_mrkdwn(post['excerpt'])}",
        f"evidence: {_mrkdwn(evidence)}",
    ]
    if post.get("url"):
        lines.append(f"<{post['url'].replace('|', '%7C').replace('>', '%3E')}|open the post>")
    return {
        "text": f"{headline} by {author} on {post['source']}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "\n".join(lines)[:_SLACK_TEXT_MAX]},
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"postwatch alert {alert['alert_id']}"}],
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
    taken (2xx), else what went wrong on the last attempt."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"postwatch/{metadata.version('postwatch')}",
        "X-Postwatch-Alert-Id": str(record.alert.get("alert_id", "")),
    }
    body = destination.body(record)
    error = "no attempt made"
    for attempt in range(policy.attempts):
        retry_after = None
        try:
            async with session.post(destination.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                error = f"HTTP {response.status}"
                if response.status < 500 and response.status not in _RETRIED:
                    return error
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
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
    """Forward alerts until cancelled; a new consumer group begins at `start`."""
    producer = new_producer(settings)
    await producer.start()
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
    group = f"{settings.topic_prefix}-forward"
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            read_alerts(settings, start, group=group) as (consumer, records),
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
                self.settings.topic(DEADLETTER), letter.to_json(), key=record.key
            )
            log.warning(
                "forward.failed", destination=destination.label, alert_id=alert_id, error=error
            )
        partition = TopicPartition(record.topic, record.partition)
        await self.consumer.commit({partition: record.offset + 1})
