"""A PostgreSQL server of a test's own, from pgserver's binaries (initdb and pg_ctl) in a
temporary directory, on a free loopback port: one a test may stop, restart or kill without
touching the suite's server or anyone else's."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]

from hub.db.embedded import ensure_server_os_user
from tests.processes import free_port

# PostgreSQL refuses to run as root; pgserver runs it as this user then, and so do we.
SYSTEM_USER = "pgserver"


class OwnServer:
    def __init__(self, root: Path, port: int, user: str | None) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self._user = user

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / program), *args],
            check=True,
            user=self._user,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"), *args)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._pg_ctl("-o", options, "start")

    def restart(self, down_seconds: float = 0.0) -> None:
        """A fast restart, as an operator's: every connection is cut, then it serves again,
        after ``down_seconds`` without a server (as a restart with a long recovery would)."""
        if not down_seconds:
            self._pg_ctl("-m", "fast", "restart")
            return
        self._pg_ctl("-m", "fast", "stop")
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")


@contextlib.contextmanager
def own_server() -> Iterator[OwnServer]:
    """A fresh server, started; stopped and removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="hub-own-pg-"))
    user = None
    if os.geteuid() == 0:
        user = SYSTEM_USER
        ensure_server_os_user(user)  # once, under a lock: not raced by parallel workers
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o755)
    server = OwnServer(root, free_port(), user)
    try:
        server._run(
            "initdb",
            "-D",
            str(server.data),
            "--auth=trust",
            "--encoding=utf8",
            "-U",
            "postgres",
        )
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
