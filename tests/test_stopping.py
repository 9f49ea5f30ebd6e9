"""`hub serve` and `hub demo` stopped as a service manager or a person stops them.

SIGTERM is what systemd, `docker stop` and Kubernetes send to the hub's process; SIGINT is Ctrl+C
in a terminal, which reaches every process of the command's group (its workers too). Either way
the hub ends cleanly and the embedded PostgreSQL stops with it, run after run on one data
directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.processes import free_port

COMMANDS = {
    "serve": ["serve"],
    "serve --workers 2": ["serve", "--workers", "2"],
    "demo": ["demo", "--children", "10"],
}


def start_hub(args: list[str], data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args, "--port", str(port)],
            env={
                **os.environ,
                "HUB_DATA_DIR": str(data_dir),
                "HUB_DATABASE_URL": "",
                # The demo's members' passwords, hashed at the cheapest cost argon2 allows here.
                "HUB_PASSWORD_HASH_TIME_COST": "1",
                "HUB_PASSWORD_HASH_MEMORY_KIB": "8192",
            },
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the hub was not ready in {seconds}s")


def postgres_of(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL server processes running on ``pgdata``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(pgdata) in (process.info["cmdline"] or []):
            found.append(process)
    return found


def stop(process: subprocess.Popen[bytes], how: signal.Signals) -> int:
    if how == signal.SIGINT:
        os.killpg(process.pid, how)  # Ctrl+C: the terminal signals the whole group
    else:
        process.send_signal(how)  # a service manager signals the main process
    return process.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_the_embedded_server_stops_with_the_hub_whatever_the_signal(
    embedded_data_dir: Path, tmp_path: Path, command: str
) -> None:
    pgdata = (embedded_data_dir / "postgres").resolve()
    log = tmp_path / "hub.log"
    try:
        # The second run finds the data directory as the first one left it.
        for how in (signal.SIGTERM, signal.SIGINT):
            port = free_port()
            process = start_hub(COMMANDS[command], embedded_data_dir, port, log)
            try:
                wait_ready(port, process, log, seconds=120)
                assert postgres_of(pgdata), "no embedded server while serving"
            finally:
                code = stop(process, how)
            tail = log.read_text(errors="replace")[-3000:]
            assert code == 0, f"{how.name}: exit {code}\n{tail}"
            assert not (pgdata / "postmaster.pid").exists(), f"{how.name}: server left running"
            assert postgres_of(pgdata) == [], f"{how.name}: server left running\n{tail}"
    finally:
        for leftover in postgres_of(pgdata):
            leftover.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
