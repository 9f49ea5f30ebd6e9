"""The embedded PostgreSQL: shared by processes on one data directory, stopped by the last."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

ATTACH = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from sqlalchemy import text
    from hub.db.embedded import embedded_url
    from hub.db.engine import create_engine

    url = embedded_url(Path(sys.argv[1]))

    async def backend_pid_and_marker():
        engine = create_engine(url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE IF NOT EXISTS marker (n int)"))
            await connection.execute(text("INSERT INTO marker VALUES (1)"))
            count = await connection.scalar(text("SELECT count(*) FROM marker"))
        await engine.dispose()
        return count

    print(asyncio.run(backend_pid_and_marker()), flush=True)
    sys.stdin.readline()  # stay attached until told to go
    """
)


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    return int(pid_file.read_text().splitlines()[0])


def attach(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ATTACH, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def wait_gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_two_processes_share_one_server_and_the_last_one_stops_it(embedded_data_dir: Path) -> None:
    first = attach(embedded_data_dir)
    assert first.stdout is not None and first.stdin is not None
    assert first.stdout.readline().strip() == "1"
    server = postmaster_pid(embedded_data_dir)
    assert server is not None and psutil.pid_exists(server)

    second = attach(embedded_data_dir)
    assert second.stdout is not None and second.stdin is not None
    # The second process sees the first one's row: the same server, not a second one.
    assert second.stdout.readline().strip() == "2"
    assert postmaster_pid(embedded_data_dir) == server

    second.stdin.write("\n")
    second.stdin.flush()
    assert second.wait(timeout=30) == 0
    assert psutil.pid_exists(server), "the server stopped while a process still used it"

    first.stdin.write("\n")
    first.stdin.flush()
    assert first.wait(timeout=30) == 0
    assert wait_gone(server), "the last process left the server running"


@pytest.mark.slow
def test_hub_migrate_on_a_fresh_data_directory(embedded_data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "migrate"],
        env={**os.environ, "HUB_DATA_DIR": str(embedded_data_dir), "HUB_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "database at revision" in result.stdout
    assert (embedded_data_dir / "postgres" / "PG_VERSION").exists()
