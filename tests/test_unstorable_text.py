"""Text no field can hold - a NUL character, half of a UTF-16 surrogate pair - is the client's
mistake: BAD_USER_INPUT naming the field, before anything runs or is charged, never an internal
error, on the normal and the compiled paths alike."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import scenarios
from hub import fast_claim
from hub.db.models import Claim, Need, RateLimit
from tests.coordination import a_child, a_need
from tests.graphql import GraphQLClient
from tests.world import COUNTY, World

OPEN_NEED = """
mutation($input: OpenNeedInput!) {
  openNeed(input: $input, idempotencyKey: "unstorable") { need { id } }
}
"""
UNSTORABLE = ("冬衣\x00", "冬衣\ud800")


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar())


async def post(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Sent as the standard library writes JSON: a lone surrogate as its \\ud800 escape, which
    httpx's own encoder (UTF-8) cannot send."""
    body = json.dumps({"query": query, "variables": variables or {}})
    response = await http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    return dict(response.json())


def refusal(answer: dict[str, Any]) -> dict[str, Any]:
    [error] = answer["errors"]
    assert answer.get("data") is None
    return dict(error["extensions"])


async def test_a_variable_nested_in_an_input_object_is_refused_by_field(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql, "文本")
    token = await gql.tokens.member("officer")  # type: ignore[union-attr]
    rows_before = await count(engine, RateLimit)
    for text in UNSTORABLE:
        need = {"childId": child, "category": "MATERIAL", "urgency": "HIGH", "description": text}
        answer = await post(http=gql.http, token=token, query=OPEN_NEED, variables={"input": need})
        assert refusal(answer) == {
            "code": "BAD_USER_INPUT",
            "field": "description",
            "variable": "input.description",
        }
    assert await count(engine, Need) == 0
    assert await count(engine, RateLimit) == rows_before  # refused before it was charged


async def test_a_string_in_a_list_variable_is_refused_with_its_place(
    gql: GraphQLClient, world: World
) -> None:
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Region { code } } }"
    representations = [{"__typename": "Region", "code": COUNTY}] * 2
    representations.append({"__typename": "Region", "code": "36\x00"})
    answer = await post(gql.http, token, query, {"r": representations})
    assert refusal(answer) == {"code": "BAD_USER_INPUT", "field": "code", "variable": "r.2.code"}


async def test_a_literal_is_refused_by_field_before_anything_runs(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql, "文本")
    literal = (
        f'mutation {{ openNeed(input: {{childId: "{child}", category: MATERIAL, urgency: HIGH,'
        ' description: "冬衣\\u0000"}, idempotencyKey: "unstorable") { need { id } } }'
    )
    refused = await gql(literal, as_="officer")
    assert refused.codes == ["BAD_USER_INPUT"] and refused.data is None
    assert refused.errors[0]["extensions"]["field"] == "description"
    assert await count(engine, Need) == 0


async def test_unstorable_text_in_the_document_itself_is_refused_not_stored(
    gql: GraphQLClient, world: World
) -> None:
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]
    # A comment holding NUL parses; as a persisted query it would have been stored.
    query = "{ __typename } # \x00"
    sha256 = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256}}
    body = json.dumps({"query": query, "extensions": extensions})
    persisted = await gql.http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert refusal(persisted.json()) == {"code": "BAD_USER_INPUT", "field": "query"}
    # A lone surrogate in the text, or in the operation's name, is a plain client error.
    for query, operation_name, code in (
        ("{ __typename } # \ud800", None, "GRAPHQL_PARSE_FAILED"),
        ('{ region(code: "\ud800") { code } }', None, "GRAPHQL_PARSE_FAILED"),
        ("{ __typename }", "\ud800", "OPERATION_RESOLUTION_FAILURE"),
    ):
        body = json.dumps({"query": query, "operationName": operation_name})
        response = await gql.http.post(
            "/graphql",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == [code]
    # Sent with a persisted query's hash, it is hashed as it came, and so refused the same way.
    query = "{ __typename } # \ud800"
    sha256 = hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256}}
    response = await gql.http.post(
        "/graphql",
        content=json.dumps({"query": query, "extensions": extensions}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["GRAPHQL_PARSE_FAILED"]


async def test_the_compiled_paths_refuse_alike_and_charge_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql, "文本"))
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]
    for text in UNSTORABLE:
        claimed = await post(gql.http, token, fast_claim.CLAIM_NEED, {"need": need, "key": text})
        assert refusal(claimed) == {"code": "BAD_USER_INPUT", "field": "key", "variable": "key"}
        page = await post(gql.http, token, scenarios.NEEDS_PAGE, {"county": COUNTY + text})
        assert refusal(page)["field"] == "county"
    assert await count(engine, Claim) == 0
    async with engine.connect() as connection:
        charged = await connection.execute(
            select(func.count())
            .select_from(RateLimit)
            .where(RateLimit.key == f"member:{world.members['ngo']}")
        )
    assert charged.scalar() == 0
