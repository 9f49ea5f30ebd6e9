"""The embedded PostgreSQL: shared by processes on one data directory, stopped by the last."""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from hub.db.embedded import USERS_FILE, forget_exited_users

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


@pytest.mark.slow
def test_a_process_killed_outright_leaves_the_server_to_the_next_one_which_stops_it(
    embedded_data_dir: Path,
) -> None:
    killed = attach(embedded_data_dir)
    assert killed.stdout is not None
    assert killed.stdout.readline().strip() == "1"
    server = postmaster_pid(embedded_data_dir)
    assert server is not None
    try:
        killed.kill()  # no exit handler runs: it never says it is done with the server
        killed.wait(timeout=30)
        assert psutil.pid_exists(server)

        last = attach(embedded_data_dir)
        assert last.stdout is not None and last.stdin is not None
        assert last.stdout.readline().strip() == "2"
        assert postmaster_pid(embedded_data_dir) == server
        last.stdin.write("\n")
        last.stdin.flush()
        assert last.wait(timeout=30) == 0
        assert wait_gone(server), "the last process left the server running"
        assert not (embedded_data_dir / "postgres" / "postmaster.pid").exists()
    finally:
        if psutil.pid_exists(server):
            psutil.Process(server).send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown


def test_a_listed_process_that_is_gone_or_started_after_the_list_changed_is_forgotten(
    tmp_path: Path,
) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    exited = int(finished.stdout)
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # As a list last changed before ``later`` started: its id was listed for a process
        # that ended, and the system has given it to ``later`` since.
        users = tmp_path / USERS_FILE
        users.write_text(json.dumps([exited, os.getpid(), later.pid]))
        changed_at = psutil.Process(later.pid).create_time() - 2
        os.utime(users, (changed_at, changed_at))
        assert psutil.Process(os.getpid()).create_time() < changed_at

        forget_exited_users(tmp_path)

        assert json.loads(users.read_text()) == [os.getpid()]
    finally:
        later.kill()
        later.wait()


RACE_TO_CREATE_USER = textwrap.dedent(
    """
    import fcntl, pwd, sys
    from hub.db.embedded import ensure_server_os_user

    name, gate = sys.argv[1], open(sys.argv[2])
    print("ready", flush=True)
    fcntl.flock(gate, fcntl.LOCK_SH)  # waits, with the others, until the test opens the gate
    ensure_server_os_user(name)
    print(pwd.getpwnam(name).pw_uid, flush=True)  # the user PostgreSQL would run as
    """
)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="users: root only")
def test_processes_starting_together_create_the_server_user_once(tmp_path: Path) -> None:
    """As parallel test processes on a fresh machine, or two hubs started at once, do: each
    must go on as the user that stays. (With a user of the test's own, so that no running
    server loses its user.) Racing ``useradd``s each created the user with an id of their own
    and the last one written won: the others ran ``initdb`` as an id no user has any more."""
    name = f"hubtest{uuid.uuid4().hex[:8]}"
    gate_path = tmp_path / "gate"
    with gate_path.open("w") as gate:
        fcntl.flock(gate, fcntl.LOCK_EX)
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACE_TO_CREATE_USER, name, str(gate_path)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        try:
            for racer in racers:
                assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
            time.sleep(0.2)  # each is at the gate by now
            fcntl.flock(gate, fcntl.LOCK_UN)
            seen = [racer.communicate(timeout=60)[0].strip() for racer in racers]
            assert [racer.returncode for racer in racers] == [0] * len(racers)
            assert seen == [str(pwd.getpwnam(name).pw_uid)] * len(racers)
        finally:
            for racer in racers:
                racer.kill()
            subprocess.run(["userdel", name], capture_output=True, check=False)
