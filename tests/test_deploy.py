"""The deployment files agree with each other and with the hub: one gateway version, pinned
everywhere; Kubernetes manifests that a cluster accepts, naming settings, routes, port and user
that the hub and its image really have."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pytest
import yaml

from hub.app import create_app
from hub.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def test_compose_runs_the_gateway_version_the_tests_run() -> None:
    manifest = json.loads((DEPLOY / "gateway" / "package.json").read_text())
    pinned = manifest["dependencies"]["@graphql-hive/gateway"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    lock = json.loads((DEPLOY / "gateway" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@graphql-hive/gateway"]["version"] == pinned
    images = re.findall(
        r"image:\s*ghcr\.io/graphql-hive/gateway:(\S+)", (DEPLOY / "compose.yaml").read_text()
    )
    assert images == [pinned]


KUBERNETES = DEPLOY / "kubernetes" / "hub.yaml"
# The oldest Kubernetes release still maintained upstream when the manifests were written.
KUBERNETES_VERSION = "1.31.0"


def kubernetes_objects() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(KUBERNETES.read_text()) if doc]


def hub_container() -> dict[str, Any]:
    (deployment,) = [doc for doc in kubernetes_objects() if doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return cast(dict[str, Any], container)


@pytest.mark.parametrize("manifest", kubernetes_objects(), ids=lambda doc: doc["kind"])
def test_kubernetes_manifests_follow_the_api_schema(manifest: dict[str, Any]) -> None:
    # Strict: a misspelt or misplaced field fails here rather than being dropped by the cluster.
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_kubernetes_sets_only_settings_the_hub_reads() -> None:
    container = hub_container()
    (config,) = [doc for doc in kubernetes_objects() if doc["kind"] == "ConfigMap"]
    names = {item["name"] for item in container["env"]} | set(config["data"])
    read = set(re.findall(r'"(HUB_[A-Z_]+)"', (ROOT / "hub" / "settings.py").read_text()))
    assert names - read == set(), "a variable the hub never reads is a setting silently ignored"
    # Secrets come from a Secret, never written into the manifest.
    for secret in ("HUB_DATABASE_URL", "HUB_ID_HASH_KEY", "HUB_KEY_ENCRYPTION_KEY"):
        (item,) = [item for item in container["env"] if item["name"] == secret]
        assert "secretKeyRef" in item["valueFrom"]


def test_kubernetes_probes_ask_the_hubs_health_endpoints() -> None:
    container = hub_container()
    paths = {container[probe]["httpGet"]["path"] for probe in ("livenessProbe", "readinessProbe")}
    routes = {getattr(route, "path", None) for route in create_app(Settings()).routes}
    assert paths == {"/healthz", "/readyz"} <= routes
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"  # checks the database


def test_kubernetes_runs_the_image_as_built() -> None:
    container = hub_container()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    exposed = re.search(r"^EXPOSE (\d+)$", dockerfile, re.MULTILINE)
    user = re.search(r"--uid (\d+)", dockerfile)
    assert exposed and user
    assert container["ports"][0]["containerPort"] == int(exposed.group(1))
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["HUB_PORT"] == exposed.group(1)
    (deployment,) = [doc for doc in kubernetes_objects() if doc["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(
        user.group(1)
    )
