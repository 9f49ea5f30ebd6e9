"""Object-level access over GraphQL: a provider of one county cannot read, change or learn the
existence of a child or need of another county, through any path; and input cannot set what
the caller should not."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from strawberry.relay import GlobalID

from hub.app import create_app
from hub.db.engine import create_engine
from hub.settings import Settings
from tests.auth import Tokens
from tests.graphql import GraphQLClient
from tests.world import COUNTY, FOREIGN_VILLAGE, OTHER_COUNTY, VILLAGE, World, birth_date_for_age

REGISTER = """
mutation($input: RegisterChildInput!) {
  registerChild(input: $input) { child { id code } }
}
"""
OPEN_NEED = """
mutation($input: OpenNeedInput!) { openNeed(input: $input) { need { id version } } }
"""


async def register(gql: GraphQLClient, as_: str, village: str, name: str = "王小明") -> str:
    result = await gql(
        REGISTER,
        {
            "input": {
                "regionCode": village,
                "birthDate": birth_date_for_age(9).isoformat(),
                "guardianship": "GRANDPARENTS",
                "fatherAway": True,
                "motherAway": True,
                "identity": {"fullName": name, "guardianPhone": "13800000000"},
            }
        },
        as_=as_,
    )
    return str(result.ok()["registerChild"]["child"]["id"])


async def open_need(gql: GraphQLClient, as_: str, child_id: str) -> str:
    result = await gql(
        OPEN_NEED,
        {
            "input": {
                "childId": child_id,
                "category": "EDUCATION",
                "urgency": "HIGH",
                "description": "school bag",
            }
        },
        as_=as_,
    )
    return str(result.ok()["openNeed"]["need"]["id"])


@pytest.fixture
async def records(gql: GraphQLClient, world: World) -> dict[str, str]:
    """A child and a need in each county, registered by that county's officer."""
    home_child = await register(gql, "officer", VILLAGE)
    foreign_child = await register(gql, "foreign_officer", FOREIGN_VILLAGE, "李小红")
    return {
        "home_child": home_child,
        "home_need": await open_need(gql, "officer", home_child),
        "foreign_child": foreign_child,
        "foreign_need": await open_need(gql, "foreign_officer", foreign_child),
        "missing_child": str(GlobalID("Child", str(uuid.uuid4()))),
        "missing_need": str(GlobalID("Need", str(uuid.uuid4()))),
    }


def strip(response: Any) -> tuple[Any, list[str], list[str]]:
    """What a client can observe: data, error codes and messages (without the ids asked)."""
    return response.data, response.codes, [e["message"] for e in response.errors]


READS = {
    "child": "query($id: ID!) { child(id: $id) { id code } }",
    "need": "query($id: ID!) { need(id: $id) { id status } }",
    "node": "query($id: ID!) { node(id: $id) { id } }",
    "aliases": "query($id: ID!) { a: child(id: $id) { code } b: node(id: $id) { id } }",
    "nested": 'query($id: ID!) { need(id: $id) { child { code identity(purpose: "case") '
    "{ fullName } } } }",
    "identity": 'query($id: ID!) { child(id: $id) { identity(purpose: "visit") { fullName } } }',
    "access_log": "query($id: ID!) { accessLog(childId: $id) { edges { node { purpose } } } }",
    "likely_duplicates": "query($id: ID!) { child(id: $id) { likelyDuplicates { child { code } } "
    "} }",
}


PATHS = [
    ("child", "child"),
    ("child", "node"),
    ("child", "aliases"),
    ("child", "identity"),
    ("child", "access_log"),
    ("child", "likely_duplicates"),
    ("need", "need"),
    ("need", "node"),
    ("need", "nested"),
]


@pytest.mark.parametrize(("kind", "path"), PATHS)
async def test_a_foreign_record_reads_like_a_missing_one(
    gql: GraphQLClient, records: dict[str, str], path: str, kind: str
) -> None:
    query = READS[path]
    for who in ("ngo_worker", "officer"):  # Gan county: NGO staff, and an official
        foreign = await gql(query, {"id": records[f"foreign_{kind}"]}, as_=who)
        missing = await gql(query, {"id": records[f"missing_{kind}"]}, as_=who)
        assert strip(foreign) == strip(missing), (who, path, foreign, missing)
        home = await gql(query, {"id": records[f"home_{kind}"]}, as_=who)
        assert strip(home) != strip(missing) or path == "access_log"


async def test_lists_hold_nothing_of_another_county(
    gql: GraphQLClient, records: dict[str, str]
) -> None:
    query = """query($j: String) {
      children(filter: {jurisdiction: $j}) { edges { node { id } } }
      needs(filter: {jurisdiction: $j}) { edges { node { id child { id } } } }
    }"""
    for jurisdiction in (None, OTHER_COUNTY, FOREIGN_VILLAGE):
        data = (await gql(query, {"j": jurisdiction}, as_="ngo")).ok()
        seen = {edge["node"]["id"] for edge in data["children"]["edges"]}
        seen |= {edge["node"]["id"] for edge in data["needs"]["edges"]}
        assert records["foreign_child"] not in seen and records["foreign_need"] not in seen
    own = (await gql(query, {"j": COUNTY}, as_="ngo")).ok()
    assert {e["node"]["id"] for e in own["children"]["edges"]} == {records["home_child"]}


async def test_foreign_records_cannot_be_changed_or_probed(
    gql: GraphQLClient, records: dict[str, str]
) -> None:
    mutations = {
        "update_need": (
            "mutation($id: ID!) { updateNeed(input: {id: $id, version: 1, urgency: LOW})"
            " { need { id } } }"
        ),
        "cancel_need": (
            'mutation($id: ID!) { cancelNeed(input: {id: $id, version: 1, reason: "x"})'
            " { need { id } } }"
        ),
        "open_need": (
            "mutation($id: ID!) { openNeed(input: {childId: $id, category: MATERIAL,"
            ' urgency: LOW, description: "coat"}) { need { id } } }'
        ),
        "update_child": (
            'mutation($id: ID!) { updateChild(input: {id: $id, version: 1, school: "x"})'
            " { child { id } } }"
        ),
    }
    for name, mutation in mutations.items():
        kind = "need" if "need" in name and name != "open_need" else "child"
        foreign = await gql(mutation, {"id": records[f"foreign_{kind}"]}, as_="officer")
        missing = await gql(mutation, {"id": records[f"missing_{kind}"]}, as_="officer")
        assert strip(foreign) == strip(missing), name
        assert foreign.codes == ["NOT_FOUND"], name


async def test_input_cannot_set_provider_role_audit_fields_or_version(
    gql: GraphQLClient, world: World, records: dict[str, str], tokens: Tokens
) -> None:
    for field in ('registeredByProviderId: "x"', "version: 3", 'createdAt: "2020-01-01"'):
        response = await gql(
            'mutation { registerChild(input: {regionCode: "' + VILLAGE + '",'
            ' birthDate: "2016-01-15", guardianship: GRANDPARENTS, fatherAway: true,'
            ' motherAway: true, identity: {fullName: "x"}, ' + field + "}) { child { id } } }",
            as_="officer",
        )
        assert response.codes == ["GRAPHQL_VALIDATION_FAILED"], field
    # A stale version is refused; the version is the server's to advance.
    stale = await gql(
        "mutation($id: ID!) { updateNeed(input: {id: $id, version: 7, urgency: LOW})"
        " { need { version } } }",
        {"id": records["home_need"]},
        as_="officer",
    )
    assert stale.codes == ["STALE_VERSION"]
    # Nobody grants a role wider than their own, or outside their provider.
    grant = """mutation($input: GrantRoleInput!) { grantRole(input: $input) { grant { id } } }"""
    member = str(GlobalID("Member", str(world.members["ngo_worker"])))
    ngo = str(GlobalID("Provider", str(world.providers["ngo"])))
    for role, jurisdiction, provider in (
        ("GOVERNMENT_OFFICER", COUNTY, ngo),
        ("PLATFORM_ADMIN", COUNTY, ngo),
        ("COORDINATOR", "36", ngo),
    ):
        response = await gql(
            grant,
            {
                "input": {
                    "memberId": member,
                    "providerId": provider,
                    "role": role,
                    "jurisdiction": jurisdiction,
                }
            },
            as_="admin",
        )
        assert response.codes in (["FORBIDDEN"], ["BAD_USER_INPUT"]), (role, response)


async def test_concurrent_principals_on_a_small_pool_never_see_each_others_data(
    database_url: str, settings: Settings, world: World, records: dict[str, str]
) -> None:
    """Two counties' officers and an NGO worker, many requests at once over two connections."""
    engine = create_engine(database_url, pool_size=1)
    app = create_app(settings, engine=engine)
    query = """query { viewer { login }
      children(first: 50) { edges { node { id
        identity(purpose: "concurrency check") { fullName } } } } }"""
    expected = {
        "officer": ({records["home_child"]}, "王小明"),
        "foreign_officer": ({records["foreign_child"]}, "李小红"),
        "ngo_worker": ({records["home_child"]}, None),
    }
    try:
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            tokens = Tokens(app, engine, world, settings)
            bearer = {login: await tokens.member(login) for login in expected}
            client = GraphQLClient(http)

            async def ask(login: str) -> None:
                data = (await client(query, token=bearer[login])).ok()
                assert data["viewer"]["login"] == login
                ids = {edge["node"]["id"] for edge in data["children"]["edges"]}
                names = {
                    (edge["node"]["identity"] or {}).get("fullName")
                    for edge in data["children"]["edges"]
                }
                assert ids == expected[login][0]
                assert names == {expected[login][1]}

            await asyncio.gather(*(ask(login) for _ in range(12) for login in expected))
    finally:
        await engine.dispose()
