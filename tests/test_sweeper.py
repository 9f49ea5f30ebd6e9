"""Expiry happens even when nobody looks, exactly once however many sweepers run."""

from __future__ import annotations

import asyncio
import dataclasses

from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.db.engine import create_engine, session_factory
from hub.domain.sweeper import sweep_once
from hub.settings import Settings
from tests.coordination import a_child, a_need, backdate_claim, claimed, log, scalar
from tests.graphql import GraphQLClient
from tests.world import World

CATEGORIES = ["MATERIAL", "EDUCATION", "MEDICAL", "SAFETY", "LEGAL", "PSYCHOLOGICAL"]


async def test_two_sweepers_expire_each_claim_exactly_once(
    gql: GraphQLClient, world: World, engine: AsyncEngine, database_url: str
) -> None:
    claims = []
    for n in range(4):
        child = await a_child(gql, f"王小{'明红刚丽'[n]}")
        for category in CATEGORIES:
            need = await a_need(gql, child, category=category)
            claims.append((await claimed(gql, need, "ngo" if n % 2 else "business"))["claim"])
    for won in claims:
        await backdate_claim(engine, won["id"], expires_at="1 minute")
    # Two processes' worth of sweepers: separate engines, separate connections, at once.
    engines = [create_engine(database_url, pool_size=2) for _ in range(2)]
    try:
        expired = await asyncio.gather(
            *(sweep_once(session_factory(e)) for e in engines for _ in range(2))
        )
    finally:
        for e in engines:
            await e.dispose()
    assert sum(expired) == len(claims) == 24
    assert await scalar(engine, "SELECT count(*) FROM claims WHERE status = 'expired'") == 24
    assert (
        await scalar(engine, "SELECT count(*) FROM audit_events WHERE action = 'claim.expired'")
        == 24
    )
    assert (
        await scalar(
            engine,
            "SELECT count(DISTINCT entity_id) FROM audit_events WHERE action = 'claim.expired'",
        )
        == 24
    )
    assert await scalar(engine, "SELECT count(*) FROM needs WHERE status <> 'open'") == 0
    assert await scalar(engine, "SELECT sum(pledged_quantity) FROM needs") == 0
    # Nothing left: a further sweep expires nothing.
    assert await sweep_once(session_factory(engine)) == 0


async def test_the_app_runs_a_sweeper(
    gql: GraphQLClient, world: World, engine: AsyncEngine, settings: Settings
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    await backdate_claim(engine, won["id"], expires_at="1 second")
    app = create_app(dataclasses.replace(settings, sweep_interval_seconds=0.05), engine=engine)
    async with LifespanManager(app):
        for _ in range(100):
            if await scalar(engine, "SELECT status::text FROM claims") == "expired":
                break
            await asyncio.sleep(0.05)
    assert await scalar(engine, "SELECT status::text FROM claims") == "expired"
    assert await scalar(engine, "SELECT status::text FROM needs") == "open"


async def test_a_delivered_claim_is_not_swept(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    (await log(gql, won["id"], "ngo")).ok()
    await backdate_claim(engine, won["id"], expires_at="1 minute")
    assert await sweep_once(session_factory(engine)) == 0
    assert await scalar(engine, "SELECT status::text FROM claims") == "active"
