"""The deployment manifests: Kubernetes (kustomize) and compose, validated with real tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from postwatch.rules import load_packs
from postwatch.settings import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path.home() / "go" / "bin"))
    assert found, f"{name} is not installed (.ci/run installs it)"
    return found


def kustomize_build() -> list[Any]:
    out = subprocess.run(
        [tool("kustomize"), "build", str(DEPLOY / "k8s")], capture_output=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_kubernetes_manifests_are_valid_against_the_api_schemas() -> None:
    documents = kustomize_build()
    kinds = sorted(str(doc["kind"]) for doc in documents)
    assert kinds == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "Deployment",
        "Deployment",
        "Deployment",
        "Namespace",
        "PodDisruptionBudget",
        "Service",
    ]
    for doc in documents:
        kubernetes_validate.validate(doc, "1.30", strict=True)


def test_an_invalid_manifest_is_caught() -> None:
    deployment = next(
        d
        for d in kustomize_build()
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "postwatch-worker"
    )
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)


def test_worker_configuration_names_real_settings() -> None:
    known = {f"POSTWATCH_{f.name.upper()}" for f in fields(Settings)}
    config = (DEPLOY / "k8s" / "config.env").read_text().splitlines()
    names = {line.split("=", 1)[0] for line in config if line and not line.startswith("#")}
    assert names <= known, names - known
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(compose["x-postwatch"]["environment"]) <= known


def test_example_pack_in_the_manifests_loads() -> None:
    (pack,) = load_packs([DEPLOY / "k8s" / "packs" / "example.yaml"])
    assert pack.rules


def test_compose_file_is_valid(tmp_path: Path) -> None:
    env = {**os.environ, "COMPOSE_PROJECT_NAME": "postwatch"}
    result = subprocess.run(
        [tool("docker-compose"), "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    broken = tmp_path / "compose.yaml"
    broken.write_text((DEPLOY / "compose.yaml").read_text().replace("command:", "comand:", 1))
    result = subprocess.run(
        [tool("docker-compose"), "-f", str(broken), "config", "-q"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert result.returncode != 0
