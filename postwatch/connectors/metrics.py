"""Every Prometheus metric of the connectors, in one place.

Labels are the connector's registry name, the operator-chosen instance name and, for skips
and errors, a short stable reason code: never post, author or free-text values.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, start_http_server

__all__ = ["InstanceMetrics", "serve_metrics"]

_LABELS = ("connector", "instance")

EVENTS = Counter(
    "postwatch_connector_events_total", "Events read from the source (any kind).", _LABELS
)
POSTS = Counter(
    "postwatch_connector_posts_total",
    "Posts produced to the posts topic and acknowledged by the broker.",
    _LABELS,
)
DELETIONS = Counter("postwatch_connector_deletions_total", "Deletion notices produced.", _LABELS)
SKIPPED = Counter(
    "postwatch_connector_skipped_total",
    "Events read but not produced, by reason (malformed, duplicate, not a post, ...).",
    (*_LABELS, "reason"),
)
RECONNECTS = Counter(
    "postwatch_connector_reconnects_total",
    "Reconnections (or retried polls) after a disconnect or an error.",
    _LABELS,
)
ERRORS = Counter(
    "postwatch_connector_errors_total",
    "Faults talking to the source, by reason; each is retried with backoff.",
    (*_LABELS, "reason"),
)
LAG = Gauge(
    "postwatch_connector_lag_seconds",
    "Seconds between the source's time of the last event read and the moment it was read.",
    _LABELS,
)
CHECKPOINTS = Counter(
    "postwatch_connector_checkpoints_total", "Cursors stored in the state topic.", _LABELS
)


@dataclass(frozen=True, slots=True)
class InstanceMetrics:
    """The metrics of one connector instance, labels bound."""

    connector: str
    instance: str

    def event(self, lag_seconds: float | None = None) -> None:
        EVENTS.labels(self.connector, self.instance).inc()
        if lag_seconds is not None:
            LAG.labels(self.connector, self.instance).set(lag_seconds)

    def produced(self, count: int) -> None:
        POSTS.labels(self.connector, self.instance).inc(count)

    def deleted(self) -> None:
        DELETIONS.labels(self.connector, self.instance).inc()

    def skipped(self, reason: str) -> None:
        SKIPPED.labels(self.connector, self.instance, reason).inc()

    def reconnected(self) -> None:
        RECONNECTS.labels(self.connector, self.instance).inc()

    def error(self, reason: str) -> None:
        ERRORS.labels(self.connector, self.instance, reason).inc()

    def checkpointed(self) -> None:
        CHECKPOINTS.labels(self.connector, self.instance).inc()


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from other hosts
    """Serve `/metrics` for Prometheus from a background thread of this process."""
    start_http_server(port, addr=host)
