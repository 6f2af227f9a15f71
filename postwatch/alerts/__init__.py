"""Alert consumers: the OCSF rendering, the terminal feed (`alerts tail`), the review console
(`alerts serve`) and the webhook forwarder (`alerts forward`)."""

from __future__ import annotations

__all__ = ["AlertsError", "BadDestination", "MissingTopic"]


class AlertsError(Exception):
    """Root of every error the alert consumers raise."""


class BadDestination(AlertsError):
    """A forwarding destination that cannot be used; the message says which and why."""


class MissingTopic(AlertsError):
    """The alerts topic does not exist (yet): no worker has run with this topic prefix."""

    @classmethod
    def of(cls, topic: str, bootstrap: str) -> MissingTopic:
        return cls(
            f"there is no topic {topic} at {bootstrap}: "
            "is POSTWATCH_TOPIC_PREFIX right, and has a worker run with it?"
        )
