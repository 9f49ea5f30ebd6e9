"""Nested fields load in batches: a page costs the same few statements whatever its size."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import Child, Need, Region
from hub.vocabulary import Guardianship, NeedCategory, RegionLevel, Urgency
from tests.graphql import GraphQLClient
from tests.query_counter import count_statements
from tests.world import COUNTY, TOWNSHIP, World

PAGE = """
query($first: Int!, $county: String!) {
  needs(filter: {jurisdiction: $county, statuses: [OPEN]}, first: $first) {
    edges { node { id category urgency
      child { code ageBand region { code name } needs(statuses: [OPEN]) { id } }
      region { code name parent { code } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def seed_needs(engine: AsyncEngine, children: int) -> None:
    """One child per village, two needs each, so no two needs share their nested objects."""
    villages = [f"{TOWNSHIP}{300 + n:03d}" for n in range(children)]
    rows_children = [
        {
            "id": uuid.uuid4(),
            "code": f"C{COUNTY}-{n:05d}",
            "region_code": village,
            "birth_date": date(2015, 5, 1),
            "guardianship": Guardianship.GRANDPARENTS,
            "father_away": True,
            "mother_away": True,
        }
        for n, village in enumerate(villages)
    ]
    async with engine.begin() as connection:
        await connection.execute(
            insert(Region),
            [
                {"code": v, "name": f"村{n}", "level": RegionLevel.VILLAGE, "parent_code": TOWNSHIP}
                for n, v in enumerate(villages)
            ],
        )
        await connection.execute(insert(Child), rows_children)
        await connection.execute(
            insert(Need),
            [
                {
                    "child_id": child["id"],
                    "region_code": child["region_code"],
                    "category": category,
                    "urgency": Urgency.HIGH,
                    "description": "测试",
                }
                for child in rows_children
                for category in (NeedCategory.MATERIAL, NeedCategory.EDUCATION)
            ],
        )


async def statements_for_page(gql: GraphQLClient, engine: AsyncEngine, first: int) -> int:
    with count_statements(engine) as statements:
        result = await gql(PAGE, {"first": first, "county": COUNTY}, as_="officer")
    edges = result.ok()["needs"]["edges"]
    assert len(edges) == first
    assert all(edge["node"]["child"]["region"]["code"].startswith(TOWNSHIP) for edge in edges)
    return len(statements)


async def test_a_page_of_needs_with_children_and_regions_costs_a_constant(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=60)
    small = await statements_for_page(gql, engine, 5)
    large = await statements_for_page(gql, engine, 50)
    assert large == small
    # The principal (its client with its roles), the rate limit the operation pays into, the
    # page, the children, their needs, the villages, then their townships.
    assert large == 7, large
