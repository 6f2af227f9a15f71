"""Kafka over TLS with SASL/SCRAM, configured through settings, on a private broker; no
secret in any log line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import trustme
from aiokafka import AIOKafkaConsumer
from cryptography.hazmat.primitives import serialization

from postwatch.kafka.topics import ensure_topics
from postwatch.settings import Settings
from tests.brokers import PrivateBroker, free_port, private_broker, shared_lib
from tests.conftest import ROOT, env_for, stop_process
from tests.factories import make_posts

JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
PACK = ROOT / "tests" / "files" / "integration" / "pack.yaml"
USER = "postwatch-test"
PASSWORD = f"pw-{uuid.uuid4().hex}"  # a fresh secret, so finding it in a log means a leak


@pytest.fixture(scope="module")
def secure_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PrivateBroker, Settings]]:
    """A broker with a SASL_SSL listener (SCRAM-SHA-256 over TLS with a test CA)."""
    home = tmp_path_factory.mktemp("secure") / "kafka"
    home.mkdir(parents=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    keystore = home.parent / "keystore.pem"
    keystore.write_bytes(pkcs8 + b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cafile = home.parent / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    secure_port = free_port()

    def listeners(port: int, controller_port: int) -> str:
        return f"""
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},SASL_SSL://127.0.0.1:{secure_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{secure_port}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={JAAS}
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.client.auth=none
"""

    with private_broker(home, listeners) as broker:
        subprocess.run(
            [
                "java", "-cp", f"{shared_lib()}/*", "kafka.admin.ConfigCommand",
                "--bootstrap-server", broker.bootstrap, "--alter",
                "--add-config", f"SCRAM-SHA-256=[iterations=4096,password={PASSWORD}]",
                "--entity-type", "users", "--entity-name", USER,
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        yield (
            broker,
            replace(
                Settings.from_env({}),
                kafka_bootstrap=f"127.0.0.1:{secure_port}",
                topic_prefix=f"secure-{uuid.uuid4().hex[:8]}",
                kafka_security_protocol="SASL_SSL",
                kafka_sasl_mechanism="SCRAM-SHA-256",
                kafka_sasl_username=USER,
                kafka_sasl_password=PASSWORD,
                kafka_ssl_cafile=str(cafile),
            ),
        )


def secure_env(settings: Settings) -> dict[str, str]:
    return env_for(
        settings,
        POSTWATCH_KAFKA_SECURITY_PROTOCOL=settings.kafka_security_protocol,
        POSTWATCH_KAFKA_SASL_MECHANISM=str(settings.kafka_sasl_mechanism),
        POSTWATCH_KAFKA_SASL_USERNAME=str(settings.kafka_sasl_username),
        POSTWATCH_KAFKA_SASL_PASSWORD=str(settings.kafka_sasl_password),
        POSTWATCH_KAFKA_SSL_CAFILE=str(settings.kafka_ssl_cafile),
        POSTWATCH_LOG_LEVEL="debug",
    )


async def read_alert_ids(settings: Settings, count: int) -> set[str]:
    consumer = AIOKafkaConsumer(
        settings.topic("alerts"), auto_offset_reset="earliest", **settings.kafka_client_options()
    )
    await consumer.start()
    ids: set[str] = set()
    try:
        async with asyncio.timeout(120):
            while len(ids) < count:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    ids.update((r.key or b"").decode() for r in records)
    finally:
        await consumer.stop()
    return ids


@pytest.mark.timeout(400)
def test_pipeline_over_sasl_ssl_and_no_secret_in_logs(
    secure_broker: tuple[PrivateBroker, Settings], tmp_path: Path
) -> None:
    _, settings = secure_broker
    asyncio.run(ensure_topics(settings))
    posts, expected = make_posts(500, seed=5)
    source = tmp_path / "posts.jsonl"
    source.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in posts))
    worker_log = tmp_path / "worker.log"
    with worker_log.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "postwatch", "worker", "--rules", str(PACK)],
            env=secure_env(settings), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        connector = subprocess.run(
            [sys.executable, "-m", "postwatch", "connect", "jsonl", "--input", str(source)],
            env=secure_env(settings), capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        assert connector.returncode == 0, connector.stderr.decode()[-2000:]
        assert asyncio.run(read_alert_ids(settings, len(expected))) == expected
    finally:
        stop_process(worker)
    logs = worker_log.read_text() + connector.stdout.decode() + connector.stderr.decode()
    # the client's debug lines about authentication are in the logs, and the secret is not
    assert "SaslAuthenticate" in logs
    assert PASSWORD not in logs


def test_wrong_password_is_refused_clearly(
    secure_broker: tuple[PrivateBroker, Settings], tmp_path: Path
) -> None:
    _, settings = secure_broker
    wrong_password = "not-the-password"  # noqa: S105 - deliberately wrong, not a secret
    wrong = replace(settings, kafka_sasl_password=wrong_password)
    source = tmp_path / "posts.jsonl"
    source.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "postwatch", "connect", "jsonl", "--input", str(source)],
        env=secure_env(wrong), capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "authentication" in err.lower() or "sasl" in err.lower(), err[-2000:]
    assert wrong_password not in err
