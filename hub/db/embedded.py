"""The embedded PostgreSQL that runs when no HUB_DATABASE_URL is given.

pgserver ships the PostgreSQL binaries in its wheel and keeps a list of the processes that use a
data directory: a second hub process on the same directory attaches to the running server, and
the server stops when the last one exits. That is what keeps two processes from corrupting it.

pgserver leaves two gaps, closed here before it starts or attaches:

- A process leaves the list from an exit handler. One that ended without running it (killed
  outright, or by a signal Python does not turn into an exception) stayed listed for good, so
  every later "last" process saw another one still listed and left the server running. Each
  start first forgets the listed processes that are gone.
- Run as root, it runs PostgreSQL as an unprivileged operating-system user that it creates when
  missing, with nothing to stop two processes creating it at once (parallel test processes on a
  fresh machine, two hubs started together): all but one failed. The user is created here, once,
  under a lock.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from urllib.parse import quote

import psutil

logger = logging.getLogger(__name__)

DATABASE_NAME = "hub"
# The operating-system user pgserver runs PostgreSQL as when the hub runs as root (fixed there).
SERVER_OS_USER = "pgserver"
# pgserver's list of the processes using a data directory, in that directory.
USERS_FILE = ".handle_pids.json"


def embedded_url(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the embedded server under ``data_dir`` and return a URL for it."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on headless machines; it has a fallback.
        warnings.simplefilter("ignore")
        from pgserver import get_server  # type: ignore[attr-defined]

    ensure_server_os_user()
    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    forget_exited_users(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    _ensure_database(server, database)
    logger.info("embedded PostgreSQL at %s", pgdata)
    return f"postgresql://postgres@/{database}?host={quote(str(socket_dir))}"


def ensure_server_os_user(name: str = SERVER_OS_USER) -> None:
    """When running as root, make sure the operating-system user PostgreSQL runs as exists,
    creating it if not: at most one process at a time, so that processes starting together
    neither race ``useradd`` nor run ``initdb`` as a user another one is still creating."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    import fcntl
    import tempfile

    from pgserver.utils import ensure_user_exists

    # The same file for every process on the machine; only root ever gets here.
    lock_path = Path(tempfile.gettempdir()) / "hub-embedded-os-user.lock"
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, or its holder dies
        ensure_user_exists(name)
    finally:
        os.close(lock)


def forget_exited_users(pgdata: Path) -> None:
    """Drop from pgserver's list of the processes using ``pgdata`` those that are gone, so that
    the last process still running stops the server when it exits.

    A listed id that now belongs to a process started after the list last changed is gone too:
    the system gave a dead process's id to a new one (in a container the hub is often process 1
    every time), which never added itself to the list.
    """
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    users_file = pgdata / USERS_FILE
    # pgserver's own lock, which it holds whenever it reads or changes the list.
    with PostgresServer._lock:
        if not users_file.exists():
            return
        changed_at = users_file.stat().st_mtime
        users = DiskList(users_file)
        listed: list[int] = users.get()
        running = [pid for pid in listed if _running_since(pid, changed_at)]
        if running != listed:
            gone = sorted(set(listed) - set(running))
            logger.info("forgetting exited users of the embedded PostgreSQL: %s", gone)
            users.put(running)


def _running_since(pid: int, moment: float) -> bool:
    """Whether process ``pid`` is running and was started no later than ``moment``."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= moment
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # not ours to inspect: keep it, as pgserver would


def _ensure_database(server: object, database: str) -> None:
    exists = server.psql(  # type: ignore[attr-defined]
        f"SELECT 1 FROM pg_database WHERE datname = '{database}';"
    )
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')  # type: ignore[attr-defined]
