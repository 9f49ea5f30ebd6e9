"""Liveness and readiness: up while the process runs; ready while it can serve.

/readyz answers within a second whatever the database does, and says what is wrong:

- the database: a cheap query on a connection of its own, opened for the probe with a short
  timeout. Not one of the pool's: when blocked requests hold every pooled connection, a probe
  waiting behind them would answer late, and "ready";
- the pool: how many of its connections are in use, against ``HUB_READY_MAX_POOL_USE``;
- the event listener: whether it is listening, without which subscribers would miss events.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.responses import JSONResponse

from hub.db import migrate
from hub.db.engine import driver_dsn

logger = logging.getLogger(__name__)

# The database probe's whole budget, connecting included: well inside the second an
# orchestrator's probe may reasonably wait, so the answer leaves in time.
DATABASE_PROBE_SECONDS = 0.5


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    state: Any = request.app.state
    engine: AsyncEngine = state.engine
    database = await _database(engine)
    in_use, size = _pool_use(engine)
    pool = "exhausted" if size and in_use >= state.settings.ready_max_pool_use * size else "ok"
    events = "listening" if state.event_listener.listening.is_set() else "not listening"
    ready = database == "ok" and pool == "ok" and events == "listening"
    body = {
        "status": "ready" if ready else "unavailable",
        "database": database,
        "pool": pool,
        "poolInUse": in_use,
        "poolSize": size,
        "events": events,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def _database(engine: AsyncEngine) -> str:
    """ "ok", "not migrated" or "unreachable" (also when it answers too slowly to serve)."""
    try:
        async with asyncio.timeout(DATABASE_PROBE_SECONDS):
            revision = await _revision(driver_dsn(engine))
    except Exception as exc:  # any failure to reach the database means "not ready", never a crash
        logger.warning("readiness check could not reach the database: %r", exc)
        return "unreachable"
    # Read from the migration scripts once, off the event loop (some 30 ms of file reading).
    head = await asyncio.to_thread(_head_revision)
    return "ok" if revision == head else "not migrated"


async def _revision(dsn: str) -> str | None:
    connection = await asyncpg.connect(
        dsn,
        timeout=DATABASE_PROBE_SECONDS,
        server_settings={"application_name": "hub-readiness"},
    )
    try:
        # The version table's single row; none in a database that was never migrated.
        migrated = await connection.fetchval("SELECT to_regclass('alembic_version')")
        revision = (
            await connection.fetchval("SELECT version_num FROM alembic_version")
            if migrated is not None
            else None
        )
    except BaseException:
        # Dropped without a goodbye, which a stalled server would never acknowledge.
        connection.terminate()
        raise
    await connection.close()
    return None if revision is None else str(revision)


@functools.cache
def _head_revision() -> str | None:
    """The migrations' head, read from the migration scripts once per process."""
    return migrate.head_revision()


def _pool_use(engine: AsyncEngine) -> tuple[int, int]:
    """Connections in use and the pool's size (0, 0 for a pool that has no fixed size)."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return 0, 0
    return pool.checkedout(), pool.size()
