"""/healthz answers while the process runs; /readyz only while the database is migrated."""

from __future__ import annotations

import uuid

import httpx
from asgi_lifespan import LifespanManager

from hub.app import create_app
from hub.db.engine import create_engine
from hub.settings import Settings
from tests.conftest import create_database, drop_database


async def test_live_and_ready(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


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
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["database"] == "unreachable"
    finally:
        await engine.dispose()
