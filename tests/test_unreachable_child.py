"""A need whose child is out of its reader's reach: only an inconsistent register holds one
(a child moved to another county while its needs stayed). Such a child reads like a missing
one, as ``node`` and ``child`` read a foreign record: ``child`` fails with NOT_FOUND and, being
non-null, nulls its need as the GraphQL spec says. The request never crashes, and the fields
beside the failing one keep their answers."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import Child
from tests.graphql import GraphQLClient
from tests.test_query_count import seed_needs
from tests.world import COUNTY, FOREIGN_VILLAGE, World

# A comment first: the compiled needs page would answer the bare document itself.
NEEDS = """
# the normal path, not the compiled page
query Needs($county: String!) {
  needs(filter: {jurisdiction: $county}, first: 50) {
    edges { node { id child { code region { code } } region { code } } }
  }
}
"""

TWO_NEEDS = """
query TwoNeeds($moved: ID!, $kept: ID!) {
  moved: need(id: $moved) { id child { code region { code } } region { code } }
  kept: need(id: $kept) { id child { code region { code } } region { code } }
}
"""


async def _move_a_child_away(gql: GraphQLClient, engine: AsyncEngine) -> tuple[str, str]:
    """Seeds a county's needs, moves one child out of it; returns a need of that child and a
    need of another."""
    await seed_needs(engine, children=3)
    page = (await gql(NEEDS, {"county": COUNTY}, as_="ngo")).ok()
    nodes = [edge["node"] for edge in page["needs"]["edges"]]
    async with engine.begin() as connection:
        moved: uuid.UUID = (await connection.execute(select(Child.id).limit(1))).scalar_one()
        moved_code = (
            await connection.execute(select(Child.code).where(Child.id == moved))
        ).scalar_one()
        await connection.execute(
            update(Child).where(Child.id == moved).values(region_code=FOREIGN_VILLAGE)
        )
    of_moved = next(node["id"] for node in nodes if node["child"]["code"] == moved_code)
    of_kept = next(node["id"] for node in nodes if node["child"]["code"] != moved_code)
    return of_moved, of_kept


async def test_a_need_whose_child_moved_away_fails_alone(
    gql: GraphQLClient, world: World, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    of_moved, of_kept = await _move_a_child_away(gql, engine)
    with caplog.at_level(logging.WARNING, logger="hub.schema.needs"):
        result = await gql(TWO_NEEDS, {"moved": of_moved, "kept": of_kept}, as_="ngo")
    assert result.status_code == 200
    assert result.codes == ["NOT_FOUND"]
    assert result.errors[0]["path"] == ["moved", "child"]
    assert result.data is not None
    assert result.data["moved"] is None
    kept = result.data["kept"]
    assert kept["id"] == of_kept and kept["child"]["code"] and kept["region"]["code"] == COUNTY
    # The operator learns of the inconsistency; the reader only that there is no such child.
    assert any("out of its reader's reach" in record.getMessage() for record in caplog.records)


async def test_a_page_holding_such_a_need_answers_with_an_error_not_a_crash(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await _move_a_child_away(gql, engine)
    for _ in range(2):  # the request's loaders were left sound for the next one too
        result = await gql(NEEDS, {"county": COUNTY}, as_="ngo")
        assert result.status_code == 200
        # Every node and the connection are non-null: the null reaches the root.
        assert result.data is None
        assert set(result.codes) == {"NOT_FOUND"}
        assert all(error["path"][-1] == "child" for error in result.errors)
