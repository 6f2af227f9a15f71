"""Settings: built once at start-up from `POSTWATCH_*` environment variables and an optional
TOML file, frozen, and passed down. Nothing else in postwatch reads the environment.

The file is named by `POSTWATCH_CONFIG`; its keys are the variable names without the prefix,
in lower case (`kafka_bootstrap = "broker:9092"`). Environment variables win over the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_BOOTSTRAP", "Settings", "SettingsError"]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
_PREFIX = "POSTWATCH_"


class SettingsError(Exception):
    """A setting has a value that cannot be used; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str = DEFAULT_BOOTSTRAP
    """Kafka bootstrap servers, comma separated."""
    topic_prefix: str = "postwatch"
    """Every topic name starts with this and a dot: `postwatch.posts`, `postwatch.alerts`."""
    rules: tuple[Path, ...] = ()
    """Rule pack files the worker loads (`POSTWATCH_RULES`: paths separated by `:` or `,`)."""
    posts_partitions: int = 4
    """Partitions of the posts topic when postwatch creates it."""
    worker_group: str = ""
    """Consumer group of the workers; empty means `<topic_prefix>-worker`."""
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_cafile: str | None = None
    log_level: str = "info"

    def topic(self, name: str) -> str:
        """The full name of one of postwatch's topics (`posts`, `alerts`, `deadletter`, ...)."""
        return f"{self.topic_prefix}.{name}"

    @property
    def group(self) -> str:
        return self.worker_group or f"{self.topic_prefix}-worker"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from a mapping shaped like `os.environ` (the real one when None)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config = env.get(_PREFIX + "CONFIG")
        if config:
            try:
                values.update(tomllib.loads(Path(config).read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(f"POSTWATCH_CONFIG={config}: {exc}") from exc
        for spec in fields(cls):
            raw = env.get(_PREFIX + spec.name.upper())
            if raw is not None:
                values[spec.name] = raw
        known = {spec.name for spec in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"unknown settings in {config}: {', '.join(unknown)}")
        return cls(**{name: _convert(name, value) for name, value in values.items()})

    def kafka_client_options(self) -> dict[str, Any]:
        """Connection options shared by every aiokafka client postwatch creates."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password
        if self.kafka_ssl_cafile:
            import ssl  # noqa: PLC0415 - only TLS deployments pay for it

            options["ssl_context"] = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        return options


def _convert(name: str, value: Any) -> Any:
    if name == "rules":
        parts = value if isinstance(value, list) else str(value).replace(",", ":").split(":")
        return tuple(Path(p) for p in parts if str(p).strip())
    if name == "posts_partitions":
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            raise SettingsError(f"POSTWATCH_POSTS_PARTITIONS must be a positive integer: {value!r}")
        return number
    if not isinstance(value, str):
        raise SettingsError(f"POSTWATCH_{name.upper()} must be a string: {value!r}")
    if name == "topic_prefix" and not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        raise SettingsError(f"POSTWATCH_TOPIC_PREFIX may hold letters, digits, . _ -: {value!r}")
    return value
