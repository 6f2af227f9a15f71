"""Webhook ingest: platforms that push POST Post v1 records (JSON or NDJSON)."""

from postwatch.connectors.webhook.auth import Auth, sign
from postwatch.connectors.webhook.connector import WebhookConnector

__all__ = ["Auth", "WebhookConnector", "sign"]
