"""The embedded PostgreSQL that runs when no HUB_DATABASE_URL is given.

pgserver ships the PostgreSQL binaries in its wheel and keeps a list of the processes that use a
data directory: a second hub process on the same directory attaches to the running server, and
the server stops when the last one exits. That is what keeps two processes from corrupting it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

DATABASE_NAME = "hub"


def embedded_url(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the embedded server under ``data_dir`` and return a URL for it."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on headless machines; it has a fallback.
        warnings.simplefilter("ignore")
        from pgserver import get_server  # type: ignore[attr-defined]

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    _ensure_database(server, database)
    logger.info("embedded PostgreSQL at %s", pgdata)
    return f"postgresql://postgres@/{database}?host={quote(str(socket_dir))}"


def _ensure_database(server: object, database: str) -> None:
    exists = server.psql(  # type: ignore[attr-defined]
        f"SELECT 1 FROM pg_database WHERE datname = '{database}';"
    )
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')  # type: ignore[attr-defined]
