"""Where a needs_page request spends its time: the hub in-process, under cProfile.

The application runs in this process behind an ASGI transport (no sockets, no server), so the
profile holds the hub's own work: authentication, parsing, validation, resolvers, SQL and JSON.
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import io
import pstats
import random
import time

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import event

from bench import scenarios
from bench.run import find_targets
from bench.seed import CLIENT_SECRET, bench_settings


async def profile(database_url: str, requests: int, top: int) -> str:
    from hub.app import create_app

    # As in ``bench run``: the limit must not be what a profile of a few hundred pages measures
    # (over it, every page would be the normal path's refusal); the upsert that counts still runs.
    settings = dataclasses.replace(
        bench_settings(database_url), rate_limit_cost_per_minute=1_000_000_000
    )
    app = create_app(settings)
    targets = await find_targets(database_url)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            response = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("bench-ngo", CLIENT_SECRET),
            )
            response.raise_for_status()
            headers = {"authorization": f"Bearer {response.json()['access_token']}"}
            walk = scenarios.needs_page_requests(targets)(0, random.Random(1))
            body = next(walk)

            async def one() -> None:
                nonlocal body
                answer = await client.post("/graphql", json=body, headers=headers)
                answer.raise_for_status()
                body = walk.send(answer.json())

            for _ in range(20):  # warm caches and the pool
                await one()
            statements: list[str] = []

            def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
                statements.append(statement)

            engine = app.state.engine.sync_engine
            event.listen(engine, "before_cursor_execute", record)
            await one()
            event.remove(engine, "before_cursor_execute", record)
            profiler = cProfile.Profile()
            began = time.perf_counter()
            profiler.enable()
            for _ in range(requests):
                await one()
            profiler.disable()
            elapsed = time.perf_counter() - began
    out = io.StringIO()
    out.write(f"one request sends {len(statements)} SQL statements:\n")
    for statement in statements:
        out.write("  " + " ".join(statement.split())[:160] + "\n")
    out.write(
        f"{requests} sequential needs_page requests: {elapsed / requests * 1000:.1f} ms each\n"
    )
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def run(database_url: str, requests: int, top: int) -> None:
    print(asyncio.run(profile(database_url, requests, top)))
