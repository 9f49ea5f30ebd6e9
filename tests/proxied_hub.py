"""A hub application whose database is reached through a test's own proxy (``tests.db_proxy``),
so that a test can stall or cut the database without touching the shared server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from hub.app import create_app
from hub.db.engine import create_engine
from hub.settings import Settings
from tests.db_proxy import DatabaseProxy, proxied

T = TypeVar("T")
# Far beyond any deadline a test sets: a request still unanswered by then hangs.
HANGS = 20.0


@dataclass
class ProxiedHub:
    proxy: DatabaseProxy
    app: Starlette
    http: httpx.AsyncClient


@contextlib.asynccontextmanager
async def proxied_hub(
    database_url: str, settings: Settings, *, pool_size: int = 2
) -> AsyncIterator[ProxiedHub]:
    """The hub on ``settings``, with an engine of ``pool_size`` connections through a proxy
    (built as ``hub serve`` builds its own, timeouts included)."""
    async with proxied(database_url) as (proxy, url):
        engine = create_engine(
            url,
            pool_size=pool_size,
            statement_timeout_seconds=settings.request_timeout_seconds,
            connect_timeout_seconds=settings.db_connect_timeout_seconds,
            pool_timeout_seconds=settings.request_timeout_seconds,
        )
        app = create_app(settings, engine=engine)
        try:
            async with LifespanManager(app) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://hub.test"
                ) as http:
                    try:
                        yield ProxiedHub(proxy, app, http)
                    finally:
                        # Cut, not stalled, so that shutting down waits for nothing.
                        await proxy.refuse()
        finally:
            await engine.dispose()


async def timed(answer: Awaitable[T]) -> tuple[T, float]:
    """The answer and the seconds it took; fails if it takes so long that it hangs."""
    started = time.monotonic()
    result = await asyncio.wait_for(answer, HANGS)
    return result, time.monotonic() - started
