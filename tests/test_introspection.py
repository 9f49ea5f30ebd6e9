"""What the schema tells about itself outside development: introspection only for platform
admins, no "Did you mean ...?" hints, no GraphiQL; ``__typename`` and ``_service`` stay open."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from hub.settings import Settings
from tests.conftest import TEST_SETTINGS
from tests.events_client import served
from tests.graphql import GraphQLClient

SCHEMA = "{ __schema { queryType { name } } }"
TYPE_IN_A_FRAGMENT = """
query { ...Peek }
fragment Peek on Query { viewer { login } ... on Query { __type(name: "Need") { name } } }
"""
BAD_ENUM = "{ needs(filter: {categories: [MATERIL]}) { edges { cursor } } }"
DEV = pytest.mark.parametrize("settings", ["dev"], indirect=True)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Production unless a test asks for development."""
    env = getattr(request, "param", "prod")
    return Settings(env=env, data_dir=tmp_path, **TEST_SETTINGS)  # type: ignore[arg-type]


async def test_introspection_is_refused_outside_development(gql: GraphQLClient) -> None:
    for login in (None, "ngo", "officer", "auditor"):
        for document in (
            SCHEMA,
            TYPE_IN_A_FRAGMENT,
            '{ __type(name: "Child") { fields { name } } }',
        ):
            result = await gql(document, as_=login)
            assert result.codes == ["INTROSPECTION_DISABLED"], (login, document)
            assert result.data is None


async def test_platform_admins_may_introspect(gql: GraphQLClient) -> None:
    assert (await gql(SCHEMA, as_="admin")).ok() == {"__schema": {"queryType": {"name": "Query"}}}
    assert (await gql(TYPE_IN_A_FRAGMENT, as_="admin")).ok()["__type"] == {"name": "Need"}


async def test_the_decision_is_taken_for_each_request_not_cached_with_the_document(
    gql: GraphQLClient,
) -> None:
    for _ in range(2):
        assert (await gql(SCHEMA, as_="admin")).ok()
        assert (await gql(SCHEMA, as_="ngo")).codes == ["INTROSPECTION_DISABLED"]
        assert (await gql(SCHEMA)).codes == ["INTROSPECTION_DISABLED"]


async def test_typename_and_the_federation_sdl_stay_open(gql: GraphQLClient) -> None:
    assert (await gql("{ __typename }")).ok() == {"__typename": "Query"}
    sdl = (await gql("{ _service { sdl } }")).ok()["_service"]["sdl"]
    assert "type Need" in sdl


async def test_refused_introspection_is_403_in_graphql_response(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql",
        json={"query": SCHEMA},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 403
    assert "data" not in response.json()


@DEV
async def test_in_development_anyone_may_introspect(gql: GraphQLClient) -> None:
    assert (await gql(SCHEMA)).ok() == {"__schema": {"queryType": {"name": "Query"}}}
    assert (await gql(TYPE_IN_A_FRAGMENT, as_="ngo")).ok()["__type"] == {"name": "Need"}


async def test_no_field_suggestions_outside_development(gql: GraphQLClient) -> None:
    for _ in range(2):  # the second answer comes from the validation cache
        result = await gql("{ needs { edges { node { statu } } } }", as_="ngo")
        assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]
        assert "Did you mean" not in result.errors[0]["message"]
        assert "statu" in result.errors[0]["message"]
    bad_enum = await gql(BAD_ENUM, as_="ngo")
    assert bad_enum.errors
    assert not any("Did you mean" in error["message"] for error in bad_enum.errors)


@DEV
async def test_field_suggestions_help_in_development(gql: GraphQLClient) -> None:
    result = await gql("{ needs { edges { node { statu } } } }", as_="ngo")
    assert "Did you mean 'status'?" in result.errors[0]["message"]
    bad_enum = await gql(BAD_ENUM, as_="ngo")
    assert "Did you mean the enum value 'MATERIAL'?" in bad_enum.errors[0]["message"]


async def test_no_graphiql_outside_development(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()


@DEV
async def test_graphiql_in_development(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


@pytest.fixture
async def hub(app: Starlette) -> AsyncIterator[str]:
    async with served(app) as address:
        yield address


async def test_introspection_over_the_websocket_is_refused_too(
    hub: str, gql: GraphQLClient
) -> None:
    assert gql.tokens is not None
    token = await gql.tokens.member("ngo")
    async with connect(f"ws://{hub}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SCHEMA}}))
        message = json.loads(await ws.recv())
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [error["extensions"]["code"] for error in errors] == ["INTROSPECTION_DISABLED"]
