"""A provider claims only needs in the categories it serves, so the others stay open to those
qualified for them; a refusal writes nothing and leaves the idempotency key free."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.coordination import a_child, a_need, claim, claimed, new_key
from tests.db_state import snapshot
from tests.graphql import GraphQLClient
from tests.world import World


async def serves(engine: AsyncEngine, world: World, provider: str, *categories: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE providers SET categories = CAST(:c AS need_category[]) WHERE id = :id"),
            {"c": [c.lower() for c in categories], "id": world.providers[provider]},
        )


async def test_a_need_outside_the_providers_categories_is_refused_and_nothing_written(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await serves(engine, world, "business", "MATERIAL", "FINANCIAL")
    child = await a_child(gql)
    counselling = await a_need(gql, child, category="PSYCHOLOGICAL")
    clothes = await a_need(gql, child, category="MATERIAL")
    before = await snapshot(engine)
    key = new_key()

    refused = await claim(gql, counselling, "business", key=key)

    assert refused.codes == ["CATEGORY_NOT_SERVED"], refused.errors
    extensions = refused.errors[0]["extensions"]
    assert extensions["category"] == "psychological"
    assert extensions["served"] == ["financial", "material"]
    assert await snapshot(engine) == before
    # The key was not spent: it claims a need the business does serve.
    assert (await claimed(gql, clothes, "business", key=key))["need"]["status"] == "CLAIMED"
    # And the counselling need is still open to a provider that serves it.
    assert (await claimed(gql, counselling, "ngo"))["need"]["status"] == "CLAIMED"


async def test_a_provider_serving_no_category_claims_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await serves(engine, world, "business")
    need = await a_need(gql, await a_child(gql))
    before = await snapshot(engine)
    assert (await claim(gql, need, "business")).codes == ["CATEGORY_NOT_SERVED"]
    assert await snapshot(engine) == before


async def test_a_need_moved_out_of_the_providers_categories_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await serves(engine, world, "business", "MATERIAL")
    need = await a_need(gql, await a_child(gql))
    edit = """
    mutation($id: ID!) { updateNeed(input: {id: $id, version: 1, category: MEDICAL}) {
      need { category } } }
    """
    assert (await gql(edit, {"id": need}, as_="officer")).ok()
    assert (await claim(gql, need, "business")).codes == ["CATEGORY_NOT_SERVED"]
