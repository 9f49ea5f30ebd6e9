"""The caches and the encoder change how fast an answer comes, never what it says or to whom."""

from __future__ import annotations

import json

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import scenarios
from hub.graphql_app import HubGraphQL
from hub.schema.root import build_schema
from tests.graphql import GraphQLClient
from tests.test_query_count import seed_needs
from tests.world import COUNTY, World

VARIABLES = {"county": COUNTY, "after": None}


async def test_a_repeated_document_answers_each_principal_by_their_own_tier(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """The same document, cached after its first use, still yields each reader's own view."""
    await seed_needs(engine, children=3)
    query = scenarios.NEEDS_PAGE.replace("claims {", "description claims {")
    first = (await gql(query, VARIABLES, as_="officer")).ok()
    for _ in range(2):
        assert (await gql(query, VARIABLES, as_="officer")).ok() == first
        ngo = (await gql(query, VARIABLES, as_="ngo")).ok()
        nodes = [edge["node"] for edge in ngo["needs"]["edges"]]
        # Officials see the case detail; a provider without a claim sees pseudonymous facts.
        assert all(node["description"] is None for node in nodes)
        assert all(edge["node"]["description"] for edge in first["needs"]["edges"])
        assert all(node["region"]["code"] == COUNTY for node in nodes)
        foreign = (await gql(query, VARIABLES, as_="foreign_ngo")).ok()
        assert foreign["needs"]["edges"] == []


async def test_a_cached_invalid_document_is_refused_every_time(gql: GraphQLClient) -> None:
    for _ in range(3):
        result = await gql("{ needs { edges { node { noSuchField } } } }", {}, as_="officer")
        assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]


async def test_an_unauthenticated_repeat_of_a_cached_document_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=1)
    (await gql(scenarios.NEEDS_PAGE, VARIABLES, as_="officer")).ok()
    assert "UNAUTHENTICATED" in (await gql(scenarios.NEEDS_PAGE, VARIABLES)).codes


def test_the_encoder_writes_what_the_standard_library_would() -> None:
    view = HubGraphQL(build_schema())
    data = {"data": {"child": {"code": "C360721-00001", "identity": {"fullName": "王小明"}}}}
    encoded = view.encode_json(data)
    assert json.loads(encoded) == data == orjson.loads(encoded)
    assert "王小明".encode() in encoded
