"""Where a request spends its time: the hub in-process, under cProfile.

The application runs in this process behind an ASGI transport (no sockets, no server), so the
profile holds the hub's own work: authentication, parsing, validation, resolvers, SQL and JSON.
``--scenario page`` profiles the needs page (as ``needs_page`` walks it); ``--scenario claim``
profiles claims as one client of the storm makes them (``claim_storm``: needs of the categories
its provider serves, one in five a need it just took, which it loses). Claims write to the
database: each profiled claim takes one of the county's open needs.
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import io
import pstats
import random
import re
import time
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import event

from bench import scenarios
from bench.run import find_targets
from bench.seed import CLIENT_SECRET, bench_settings

_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)

# The storm client whose claims are profiled.
CLAIMANT = 0


async def profile(database_url: str, requests: int, top: int, scenario: str = "page") -> str:
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
            if scenario == "claim":
                who = f"bench-storm-{CLAIMANT:02d}"
                walk = scenarios.claim_storm_requests(targets)(CLAIMANT, random.Random(1))
            else:
                who = "bench-ngo"
                walk = scenarios.needs_page_requests(targets)(0, random.Random(1))
            response = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(who, CLIENT_SECRET),
            )
            response.raise_for_status()
            headers = {"authorization": f"Bearer {response.json()['access_token']}"}

            def advance(reply: dict[str, Any] | None) -> Any:
                try:
                    return walk.send(reply)
                except StopIteration:
                    # Each profiled claim takes one of the county's open needs.
                    raise SystemExit(
                        f"{who} has no open need left to claim in the county: seed the "
                        "database again, or profile fewer requests"
                    ) from None

            body = advance(None)
            outcomes: dict[str, int] = {}

            async def one() -> None:
                nonlocal body
                answer = await client.post("/graphql", json=body, headers=headers)
                answer.raise_for_status()
                reply = answer.json()
                if reply.get("errors"):
                    raise RuntimeError(f"the {scenario} request failed: {reply['errors']}")
                if scenario == "claim":
                    kind = reply["data"]["claimNeed"]["__typename"]
                    outcomes[kind] = outcomes.get(kind, 0) + 1
                body = advance(reply)

            for _ in range(20):  # warm caches and the pool
                await one()
            outcomes.clear()
            statements: list[str] = []

            def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
                statements.append(statement)

            # Statements sent on the asyncpg connection past SQLAlchemy (``hub.db.raw``), as
            # asyncpg reports them, without a transaction's own BEGIN, COMMIT or ROLLBACK.
            def sent(logged: Any) -> None:
                if not _TRANSACTION_CONTROL.match(logged.query):
                    statements.append(logged.query)

            drivers: list[Any] = []

            def checkout(dbapi_connection: Any, *_args: object) -> None:
                dbapi_connection.driver_connection.add_query_logger(sent)
                drivers.append(dbapi_connection.driver_connection)

            engine = app.state.engine.sync_engine
            event.listen(engine, "before_cursor_execute", record)
            event.listen(engine, "checkout", checkout)
            await one()
            await asyncio.sleep(0)  # asyncpg reports from the event loop
            event.remove(engine, "checkout", checkout)
            event.remove(engine, "before_cursor_execute", record)
            for driver in drivers:
                driver.remove_query_logger(sent)
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
        f"{requests} sequential {scenario} requests: {elapsed / requests * 1000:.1f} ms each\n"
    )
    if outcomes:
        out.write(f"outcomes: {outcomes}\n")
    stats = pstats.Stats(profiler, stream=out)
    out.write(f"{stats.total_calls / requests:.0f} Python function calls per request\n")  # type: ignore[attr-defined]
    out.write("calls and own time per request, by package:\n")
    for package, (calls, seconds) in by_package(stats):
        out.write(f"  {package:<24} {calls / requests:8.0f} {seconds / requests * 1000:8.2f} ms\n")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def by_package(stats: pstats.Stats) -> list[tuple[str, tuple[int, float]]]:
    """Calls and own time summed by the package (or hub module) each function lives in: the
    load driver's share (httpx) apart from the hub's."""
    totals: dict[str, tuple[int, float]] = {}
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    entries = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_primitive, calls, own, _total, _callers) in entries.items():
        parts = filename.replace("\\", "/").split("/")
        if "site-packages" in parts:
            package = parts[parts.index("site-packages") + 1]
        elif "hub" in parts:
            package = "/".join(parts[parts.index("hub") : parts.index("hub") + 2])
        elif filename.startswith("<") or "python3" in filename:
            package = "(python)"
        else:
            package = parts[-1]
        previous = totals.get(package, (0, 0.0))
        totals[package] = (previous[0] + calls, previous[1] + own)
    return sorted(totals.items(), key=lambda item: -item[1][0])


def run(database_url: str, requests: int, top: int, scenario: str = "page") -> None:
    print(asyncio.run(profile(database_url, requests, top, scenario)))
