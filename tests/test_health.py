"""/healthz answers while the process runs; /readyz only while the hub can serve: the database
answers and is migrated, the pool is not exhausted, the event listener listens. /readyz answers
within a second whatever is wrong (a stalled database and an exhausted pool:
tests/test_deadlines.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.app import create_app
from hub.db.engine import create_engine
from hub.settings import Settings
from tests.conftest import create_database, drop_database


async def test_live_and_ready(app: Starlette, http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    await asyncio.wait_for(app.state.event_listener.listening.wait(), 10)
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "pool": "ok",
        "poolInUse": 0,
        "poolSize": 5,
        "events": "listening",
    }


async def test_not_ready_while_the_event_listener_is_down(
    app: Starlette, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Cut from the server's side, the listener is down until it reconnects (a pause of half
    a second at least): /readyz says so meanwhile, then ready again."""
    listening = app.state.event_listener.listening
    await asyncio.wait_for(listening.wait(), 10)
    async with engine.connect() as connection:
        ended = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'hub-events' AND datname = current_database()"
            )
        )
    assert ended == 1
    seen = set()
    deadline = time.monotonic() + 10
    while "not listening" not in seen and time.monotonic() < deadline:
        started = time.monotonic()
        ready = await http.get("/readyz")
        assert time.monotonic() - started < 1.0
        seen.add(ready.json()["events"])
        if ready.json()["events"] == "not listening":
            assert ready.status_code == 503
            assert ready.json()["database"] == "ok"
        await asyncio.sleep(0.02)
    assert "not listening" in seen
    await asyncio.wait_for(listening.wait(), 10)
    assert (await http.get("/readyz")).status_code == 200


async def test_not_ready_on_an_unmigrated_database(server_url: str, settings: Settings) -> None:
    name = f"hub_unmigrated_{uuid.uuid4().hex[:8]}"
    url = await create_database(server_url, name)
    engine = create_engine(url, pool_size=1)
    app = create_app(settings, engine=engine)
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
                assert (await http.get("/healthz")).status_code == 200
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["database"] == "not migrated"
    finally:
        await engine.dispose()
        await drop_database(server_url, name)


async def test_not_ready_when_the_database_is_unreachable(settings: Settings) -> None:
    # Port 1 on loopback: nothing listens there, so every connection is refused at once.
    engine = create_engine("postgresql://postgres@127.0.0.1:1/hub", pool_size=1)
    app = create_app(settings, engine=engine)
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
                assert (await http.get("/healthz")).status_code == 200
                started = time.monotonic()
                ready = await http.get("/readyz")
                assert time.monotonic() - started < 1.0
                assert ready.status_code == 503
                assert ready.json()["database"] == "unreachable"
                assert ready.json()["events"] == "not listening"
    finally:
        await engine.dispose()
