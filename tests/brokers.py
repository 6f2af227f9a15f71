"""Private Kafka brokers for tests that must stop, restart or reconfigure one, so that the
shared local broker other tests use is never disturbed. They run from the same jars."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def shared_lib() -> Path:
    """Where the shared broker's jars are, so a private one needs no download."""
    if os.environ.get("POSTWATCH_KAFKA_LIB"):
        return Path(os.environ["POSTWATCH_KAFKA_LIB"])
    home = os.environ.get("POSTWATCH_KAFKA_HOME") or Path.home() / ".cache/postwatch/kafka"
    return Path(home) / "lib"


@dataclass(frozen=True)
class PrivateBroker:
    home: Path
    port: int
    env: dict[str, str]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def run(self, command: str) -> None:
        subprocess.run(["bash", str(KAFKA_SH), command], env=self.env, check=True, timeout=180)


@contextmanager
def private_broker(
    home: Path, extra_properties: Callable[[int, int], str] | None = None
) -> Iterator[PrivateBroker]:
    """A broker of its own on free ports, started, and stopped when the block ends.

    `extra_properties(port, controller_port)` gives server properties that override the
    defaults (e.g. more listeners)."""
    port, controller_port = free_port(), free_port()
    env = {
        **os.environ,
        "POSTWATCH_KAFKA_HOME": str(home),
        "POSTWATCH_KAFKA_LIB": str(shared_lib()),
        "POSTWATCH_KAFKA_PORT": str(port),
        "POSTWATCH_KAFKA_CONTROLLER_PORT": str(controller_port),
    }
    if extra_properties is not None:
        extra = home.parent / f"{home.name}-extra.properties"
        extra.write_text(extra_properties(port, controller_port))
        env["POSTWATCH_KAFKA_EXTRA_PROPERTIES"] = str(extra)
    broker = PrivateBroker(home, port, env)
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")
