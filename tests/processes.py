"""Services started as real processes for a test: on loopback, logged to files, always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    def __init__(self, name: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], *, seconds: float) -> None:
        """Poll ``ready`` until it holds; fail with the log if the process dies or time runs out."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_tail()}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.3)
        raise AssertionError(f"{self.name} was not ready in {seconds}s:\n{self.log_tail()}")


@contextlib.contextmanager
def running(
    name: str,
    args: list[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    cwd: Path | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[Service]:
    """Start ``args`` in its own process group; on exit, stop that group (and only it)."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield Service(name, process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, stop_signal)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
