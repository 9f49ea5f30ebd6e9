"""Nested coordination fields load in batches: the statements a query makes do not grow with
the number of children, needs, claims or deliveries it returns."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.coordination import a_child, a_need, claimed, log
from tests.graphql import GraphQLClient
from tests.query_counter import count_statements
from tests.world import World

NESTED = """
{
  children(first: 50) {
    nodes {
      code school
      coverage {
        need { id status claims { id } }
        claims { status provider { name } need { status } deliveries { id reviewedBy { name } } }
        deliveries { id claim { id } }
        unmet
      }
    }
  }
  needs(first: 50) { nodes { id claims { provider { name } deliveries { id } } } }
  claims(first: 50) { nodes { id need { child { code } } } }
}
"""


async def add_children(gql: GraphQLClient, count: int) -> None:
    for n in range(count):
        child = await a_child(gql, f"测试{n}")
        for category, provider in (("MATERIAL", "ngo"), ("EDUCATION", "business")):
            won = (await claimed(gql, await a_need(gql, child, category=category), provider))[
                "claim"
            ]
            (await log(gql, won["id"], provider)).ok()


async def test_nested_coordination_fields_do_not_multiply_queries(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_children(gql, 2)
    with count_statements(engine) as few:
        small = (await gql(NESTED, as_="officer")).ok()
    await add_children(gql, 4)
    with count_statements(engine) as many:
        large = (await gql(NESTED, as_="officer")).ok()
    assert len(small["children"]["nodes"]) == 2 and len(large["children"]["nodes"]) == 6
    assert len(large["claims"]["nodes"]) == 12
    assert len(many) == len(few), "\n".join(many)
