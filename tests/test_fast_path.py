"""The caches and the encoder change how fast an answer comes, never what it says or to whom."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bench import scenarios
from hub import fast_path
from hub.auth.principals import member_principal
from hub.db.models import Child
from hub.domain.pagination import PageRequest
from hub.graphql_app import HubGraphQL
from hub.schema.root import build_schema
from tests.graphql import GraphQLClient
from tests.test_query_count import seed_needs
from tests.world import COUNTY, FOREIGN_VILLAGE, World

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


async def test_a_syntax_error_says_so_every_time(gql: GraphQLClient) -> None:
    for _ in range(3):
        result = await gql("{ needs { edges ", {}, as_="officer")
        assert result.codes == ["GRAPHQL_PARSE_FAILED"]


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
    assert "王小明" in encoded  # UTF-8 text, not \u escapes


# The compiled needs page against the normal path: the same document with a comment in front
# is not the compiled one, so GraphQL executes it as always.
NORMAL_PATH = "# executed by the normal path\n" + scenarios.NEEDS_PAGE


async def _both_paths(
    gql: GraphQLClient, as_: str | None, variables: dict[str, object]
) -> tuple[dict[str, Any], dict[str, Any]]:
    compiled = await gql(scenarios.NEEDS_PAGE, variables, as_=as_)
    normal = await gql(NORMAL_PATH, variables, as_=as_)
    return (
        {"status": compiled.status_code, "data": compiled.data, "errors": compiled.errors},
        {"status": normal.status_code, "data": normal.data, "errors": normal.errors},
    )


async def test_the_compiled_needs_page_answers_as_the_normal_path_for_every_reader(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=40)
    # A claim of the NGO's: it now sees that child's village, and its claim on the page.
    page = (await gql(scenarios.NEEDS_PAGE, VARIABLES, as_="officer")).ok()
    claimed = page["needs"]["edges"][3]["node"]["id"]
    claim = await gql(scenarios.CLAIM_NEED, {"need": claimed, "key": "fast-1"}, as_="ngo")
    assert claim.ok()["claimNeed"]["__typename"] == "ClaimNeedSuccess"
    readers = ("officer", "director", "ngo", "ngo_worker", "business", "foreign_ngo", "admin")
    for reader in readers:
        variables: dict[str, object] = dict(VARIABLES)
        for _ in range(3):  # the first page and the following ones
            compiled, normal = await _both_paths(gql, reader, variables)
            assert compiled == normal, reader
            info = compiled["data"]["needs"]["pageInfo"] if compiled.get("data") else None
            if not info or not info["hasNextPage"]:
                break
            variables["after"] = info["endCursor"]
    ngo = (await gql(scenarios.NEEDS_PAGE, VARIABLES, as_="ngo")).ok()
    regions = {edge["node"]["region"]["code"] for edge in ngo["needs"]["edges"]}
    assert any(len(code) == 12 for code in regions) and COUNTY in regions


async def test_the_compiled_page_reads_no_child_out_of_the_readers_reach(
    world: World, engine: AsyncEngine
) -> None:
    """The compiled page joins each need's child by the children's own rule: a child moved out
    of the reader's county comes without its columns (and the page falls back to the normal
    path, whose answer is what an inconsistent register gives there)."""
    await seed_needs(engine, children=3)
    async with engine.begin() as connection:
        moved = (await connection.execute(select(Child.id).limit(1))).scalar_one()
        await connection.execute(
            update(Child).where(Child.id == moved).values(region_code=FOREIGN_VILLAGE)
        )
    async with async_sessionmaker(engine)() as session:
        principal = await member_principal(session, "ngo")
        assert principal is not None
        read = await fast_path._read_page(session, principal, COUNTY, PageRequest(first=50))
    codes = {row.child_id: row.child_code for row in read.rows}
    assert len(read.rows) == 6 and len(codes) == 3  # two needs per child, all still in the county
    assert codes[moved] is None
    assert all(code for child_id, code in codes.items() if child_id != moved)


async def test_the_compiled_needs_page_refuses_and_fails_as_the_normal_path(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=2)
    cases: list[tuple[str | None, dict[str, object]]] = [
        (None, VARIABLES),  # no token
        ("ngo", {"county": COUNTY, "after": "not-a-cursor"}),
        ("ngo", {"county": "36x", "after": None}),
        ("ngo", {"county": 360721, "after": None}),
        ("ngo", {"after": None}),
    ]
    for as_, variables in cases:
        compiled, normal = await _both_paths(gql, as_, variables)
        assert compiled["errors"], (as_, variables)
        for body in (compiled, normal):
            for error in body["errors"]:
                # The normal path's document has one more line, the comment.
                error.pop("locations", None)
                error.get("extensions", {}).pop("requestId", None)
        assert compiled == normal, (as_, variables)


async def test_an_unknown_operation_name_or_content_type_is_left_to_the_normal_path(
    http: httpx.AsyncClient, gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=1)
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]

    async def both(operation: str, content_type: str) -> tuple[httpx.Response, httpx.Response]:
        headers = {"authorization": f"Bearer {token}", "content-type": content_type}
        answers = []
        for query in (scenarios.NEEDS_PAGE, NORMAL_PATH):
            body = {"query": query, "variables": VARIABLES, "operationName": operation}
            answers.append(await http.post("/graphql", content=orjson.dumps(body), headers=headers))
        return answers[0], answers[1]

    compiled, normal = await both("Other", "application/json")
    assert compiled.status_code != 200 or "errors" in compiled.json()
    assert (compiled.status_code, compiled.text) == (normal.status_code, normal.text)
    compiled, normal = await both("NeedsPage", "text/plain")
    assert (compiled.status_code, compiled.text) == (normal.status_code, normal.text)
    compiled, normal = await both("NeedsPage", "application/json")
    assert compiled.json() == normal.json()
    assert len(compiled.json()["data"]["needs"]["edges"]) == 2


async def test_the_compiled_page_follows_a_readers_roles_as_they_change(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """The compiled page keeps its statements per reader; a reader whose roles changed is a
    new reader to it, never served the statements of its old roles."""
    await seed_needs(engine, children=3)
    before = (await gql(scenarios.NEEDS_PAGE, VARIABLES, as_="ngo")).ok()
    assert len(before["needs"]["edges"]) == 6
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE role_grants SET jurisdiction = :elsewhere"
                " WHERE member_id = (SELECT id FROM members WHERE login = 'ngo')"
            ),
            {"elsewhere": FOREIGN_VILLAGE[:6]},
        )
    compiled, normal = await _both_paths(gql, "ngo", VARIABLES)
    assert compiled == normal
    assert compiled["data"]["needs"]["edges"] == []
