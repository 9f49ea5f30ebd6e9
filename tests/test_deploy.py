"""The deployment files agree with each other: one gateway version, pinned everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


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
