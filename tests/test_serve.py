"""`hub serve` as a person runs it: a real process, a real port, a real embedded database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(base: str, process: subprocess.Popen[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError("the hub did not become ready")


@pytest.mark.slow
@pytest.mark.parametrize("env", ["prod", "dev"])
def test_serve_migrates_serves_and_stops_cleanly(embedded_data_dir: Path, env: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "HUB_DATA_DIR": str(embedded_data_dir),
            "HUB_DATABASE_URL": "",
            "HUB_ENV": env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(base, process)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}

        anonymous = httpx.post(f"{base}/graphql", json={"query": "{ viewer { login } }"})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
        # GraphiQL is a development tool: served in dev, absent in production.
        if env == "dev":
            assert page.status_code == 200 and "graphiql" in page.text.lower()
        else:
            assert "graphiql" not in page.text.lower()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0
    # The embedded server stopped with its last user.
    assert not (embedded_data_dir / "postgres" / "postmaster.pid").exists()


@pytest.mark.slow
def test_serve_with_workers_runs_them_on_one_port(embedded_data_dir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--workers", "2"],
        env={
            **os.environ,
            "HUB_DATA_DIR": str(embedded_data_dir),
            "HUB_DATABASE_URL": "",
            "HUB_ENV": "prod",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(base, process)
        # uvicorn spawns its workers through multiprocessing (beside a resource tracker).
        workers = [
            child
            for child in psutil.Process(process.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert len(workers) == 2
        for _ in range(4):
            anonymous = httpx.post(f"{base}/graphql", json={"query": "{ viewer { login } }"})
            assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert not (embedded_data_dir / "postgres" / "postmaster.pid").exists()
