"""The pool hands out no connection the database server has closed.

The hub does not ping a connection before each use (with asyncpg that is three round trips per
checkout); it asks asyncpg whether the server closed the socket, which costs nothing. These tests
close the pool's connections from the server's side, as a restart or an administrator would, and
check that the next requests are answered rather than failed.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.engine import create_engine
from tests.coordination import a_child, a_need
from tests.graphql import GraphQLClient
from tests.world import COUNTY

NEEDS = """
query ($county: String!) {
  needs(filter: {jurisdiction: $county}, first: 10) { edges { node { id status } } }
}
"""


async def terminate_pool_connections(engine: AsyncEngine) -> int:
    """End, from the server, every connection of the hub's pool but the one asking."""
    async with engine.connect() as connection:
        ended = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'hub' AND datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        )
    return int(ended or 0)


async def test_requests_after_the_server_closed_the_pools_connections(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    # Fill the pool with several connections, so that there are idle ones to close.
    warm = await asyncio.gather(*(gql(NEEDS, {"county": COUNTY}, as_="officer") for _ in range(6)))
    assert all(not answer.errors for answer in warm)
    assert await terminate_pool_connections(engine) >= 1
    await asyncio.sleep(0.2)  # the event loop reads each socket's close

    answers = await asyncio.gather(
        *(gql(NEEDS, {"county": COUNTY}, as_="officer") for _ in range(6))
    )
    for answer in answers:
        assert need in [edge["node"]["id"] for edge in answer.ok()["needs"]["edges"]]


async def test_a_mutation_after_the_server_closed_the_pools_connections(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    await a_need(gql, await a_child(gql))
    # Several connections in the pool, whatever ran before, so that there are idle ones to close.
    warm = await asyncio.gather(*(gql(NEEDS, {"county": COUNTY}, as_="officer") for _ in range(4)))
    assert all(not answer.errors for answer in warm)
    assert await terminate_pool_connections(engine) >= 1
    await asyncio.sleep(0.2)
    # A write is answered too, and it is there to read afterwards.
    need = await a_need(gql, await a_child(gql, "李小红"))
    found = await gql(NEEDS, {"county": COUNTY}, as_="officer")
    assert need in [edge["node"]["id"] for edge in found.ok()["needs"]["edges"]]


async def test_the_pool_keeps_its_connections_through_bursts(database_url: str) -> None:
    """More requests at once than the pool holds wait for a connection: the pool neither opens
    extra connections for a burst nor closes them after it, each of which would cost a new
    server process and every statement prepared again on it."""
    engine = create_engine(database_url, pool_size=3)
    backends: set[int] = set()

    async def one() -> None:
        async with engine.connect() as connection:
            backends.add(await connection.scalar(text("SELECT pg_backend_pid()")))
            await asyncio.sleep(0.01)

    try:
        for _ in range(10):
            await asyncio.gather(*(one() for _ in range(9)))
    finally:
        await engine.dispose()
    assert len(backends) == 3
