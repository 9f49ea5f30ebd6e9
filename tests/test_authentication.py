"""Who may ask at all: no identity, an unknown one, dev identities in production, live roles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.db.models import Provider, RoleGrant
from hub.settings import Settings
from hub.vocabulary import ProviderStatus, Role
from tests.graphql import GraphQLClient, GraphQLResponse
from tests.registry_data import add_child, add_need, gid
from tests.world import FOREIGN_VILLAGE, OTHER_COUNTY, VILLAGE, World, birth_date_for_age

# One operation per root field, each asking for something a leak would show.
ROOT_FIELDS = {
    "node": "query($id: ID!) { node(id: $id) { id ... on Child { code } } }",
    "viewer": "{ viewer { login grants { role } } }",
    "regions": "{ regions { nodes { code name } } }",
    "region": '{ region(code: "360721101201") { code name } }',
    "providers": "{ providers { nodes { name } } }",
    "children": "{ children { nodes { code } } }",
    "child": "query($id: ID!) { child(id: $id) { code } }",
    "needs": "{ needs { nodes { id category } } }",
    "need": "query($need: ID!) { need(id: $need) { id category } }",
}

REGISTER = """
mutation($input: RegisterChildInput!) { registerChild(input: $input) { child { code } } }
"""
OPEN_NEED = """
mutation($child: ID!) {
  openNeed(input: {childId: $child, category: MATERIAL, urgency: HIGH, description: "棉被"}) {
    need { id }
  }
}
"""
CHILD_CODE = "query($id: ID!) { child(id: $id) { code } }"
NEEDS = "{ needs(first: 100) { nodes { id } } }"
VIEWER = "{ viewer { login provider { name } grants { role jurisdiction } } }"


def unauthenticated(result: GraphQLResponse, fields: int = 1) -> list[str]:
    """Every field refused as UNAUTHENTICATED and no data at all; the messages."""
    assert result.status_code == 200
    assert result.codes == ["UNAUTHENTICATED"] * fields, result.errors
    assert result.data is None or all(value is None for value in result.data.values())
    return [error["message"] for error in result.errors]


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


@pytest.fixture
async def registry(engine: AsyncEngine, world: World) -> dict[str, Any]:
    child = await add_child(engine, region=VILLAGE, full_name="王小明")
    need = await add_need(engine, child, description="冬季棉衣一件")
    return {"id": gid("Child", child.id), "need": gid("Need", need.id), "code": child.code}


# --- no identity, an unknown one --------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(ROOT_FIELDS))
@pytest.mark.parametrize("as_", [None, "nobody"])
async def test_every_root_field_needs_a_known_member(
    gql: GraphQLClient, registry: dict[str, Any], field: str, as_: str | None
) -> None:
    result = await gql(ROOT_FIELDS[field], registry, as_=as_)
    [message] = unauthenticated(result)
    if as_ == "nobody":
        assert "no member with that login" in message
    else:
        assert message == "sign in to use the hub"
    assert registry["code"] not in str(result.data) + str(result.errors)


async def test_all_root_fields_at_once_are_all_refused(
    gql: GraphQLClient, registry: dict[str, Any]
) -> None:
    def selections(fields: list[str]) -> str:
        return " ".join(
            ROOT_FIELDS[f][ROOT_FIELDS[f].index("{") + 1 : ROOT_FIELDS[f].rindex("}")].strip()
            for f in fields
        )

    # The nullable fields each answer null with their own error.
    nullable = ["node", "region", "child", "need"]
    result = await gql(f"query($id: ID!, $need: ID!) {{ {selections(nullable)} }}", registry)
    unauthenticated(result, fields=len(nullable))
    assert {tuple(error["path"]) for error in result.errors} == {(f,) for f in nullable}
    assert result.data == dict.fromkeys(nullable)

    # With non-null fields among them, execution stops at the first refusal: no data at all.
    result = await gql(
        f"query($id: ID!, $need: ID!) {{ {selections(list(ROOT_FIELDS))} }}", registry
    )
    assert result.errors and set(result.codes) == {"UNAUTHENTICATED"}
    assert result.data is None


async def test_mutations_need_a_known_member_and_change_nothing(
    gql: GraphQLClient, engine: AsyncEngine, registry: dict[str, Any]
) -> None:
    new_child = {
        "regionCode": VILLAGE,
        "birthDate": birth_date_for_age(8).isoformat(),
        "guardianship": "RELATIVE",
        "fatherAway": True,
        "motherAway": False,
        "identity": {"fullName": "赵小军"},
    }
    before = {table: await count(engine, table) for table in ("children", "needs", "audit_events")}
    for as_ in (None, "nobody"):
        unauthenticated(await gql(REGISTER, {"input": new_child}, as_=as_))
        unauthenticated(await gql(OPEN_NEED, {"child": registry["id"]}, as_=as_))
    after = {table: await count(engine, table) for table in before}
    assert after == before


async def test_a_get_request_without_identity_is_refused(
    http: httpx.AsyncClient, registry: dict[str, Any]
) -> None:
    response = await http.get("/graphql", params={"query": "{ needs { nodes { id } } }"})
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert body.get("data") is None


async def test_a_known_member_gets_through(gql: GraphQLClient, registry: dict[str, Any]) -> None:
    """The same operations, with an identity: the refusals above are about identity alone."""
    for field, query in ROOT_FIELDS.items():
        result = await gql(query, registry, as_="officer")
        assert result.ok()[field] is not None, field


# --- production refuses dev identities --------------------------------------------------------


@pytest.fixture
async def prod_gql(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[GraphQLClient]:
    settings = Settings(env="prod", data_dir=tmp_path, id_hash_key="test-id-hash-key")
    app = create_app(settings, engine=engine)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://hub.test"
        ) as client,
    ):
        yield GraphQLClient(client)


@pytest.mark.parametrize("login", ["officer", "admin", "nobody"])
async def test_production_refuses_dev_identities(
    prod_gql: GraphQLClient, registry: dict[str, Any], login: str
) -> None:
    result = await prod_gql(ROOT_FIELDS["children"], as_=login)
    [message] = unauthenticated(result)
    assert "HUB_ENV=dev" in message
    assert "X-Hub-Dev-Member" in message
    assert registry["code"] not in str(result.data)

    every = await prod_gql(ROOT_FIELDS["child"], registry, as_=login)
    [message] = unauthenticated(every)
    assert "HUB_ENV=dev" in message


async def test_production_without_identity_asks_to_sign_in(
    prod_gql: GraphQLClient, registry: dict[str, Any]
) -> None:
    [message] = unauthenticated(await prod_gql(ROOT_FIELDS["needs"]))
    assert message == "sign in to use the hub"


# --- roles are read live ----------------------------------------------------------------------


async def revoke(
    engine: AsyncEngine, login: str, world: World, jurisdiction: str | None = None
) -> None:
    async with engine.begin() as connection:
        statement = (
            update(RoleGrant)
            .where(RoleGrant.member_id == world.members[login], RoleGrant.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        if jurisdiction is not None:
            statement = statement.where(RoleGrant.jurisdiction == jurisdiction)
        result = await connection.execute(statement)
        assert result.rowcount >= 1


async def test_a_revoked_role_stops_working_on_the_next_request(
    gql: GraphQLClient, engine: AsyncEngine, world: World, registry: dict[str, Any]
) -> None:
    seen = await gql(CHILD_CODE, registry, as_="officer")
    assert seen.ok()["child"] == {"code": registry["code"]}

    await revoke(engine, "officer", world)

    [message] = unauthenticated(await gql(CHILD_CODE, registry, as_="officer"))
    assert "live role" in message
    unauthenticated(await gql(NEEDS, as_="officer"))
    # Others of the same provider keep their own roles.
    assert (await gql(VIEWER, as_="auditor")).ok()["viewer"]["login"] == "auditor"


async def test_revoking_one_of_two_roles_narrows_the_reach_at_once(
    gql: GraphQLClient, engine: AsyncEngine, world: World, registry: dict[str, Any]
) -> None:
    foreign = await add_child(engine, region=FOREIGN_VILLAGE)
    async with engine.begin() as connection:
        await connection.execute(
            insert(RoleGrant).values(
                member_id=world.members["officer"],
                provider_id=world.providers["gan_bureau"],
                role=Role.GOVERNMENT_OFFICER,
                jurisdiction=OTHER_COUNTY,
            )
        )
    both = await gql("{ children { nodes { code } } }", as_="officer")
    assert {n["code"] for n in both.ok()["children"]["nodes"]} == {registry["code"], foreign.code}
    identity = 'query($id: ID!) { child(id: $id) { identity(purpose: "家访核实") { fullName } } }'
    read = await gql(identity, {"id": gid("Child", foreign.id)}, as_="officer")
    assert read.ok()["child"]["identity"] == {"fullName": "王小明"}

    await revoke(engine, "officer", world, jurisdiction=OTHER_COUNTY)

    one = await gql("{ children { nodes { code } } }", as_="officer")
    assert [n["code"] for n in one.ok()["children"]["nodes"]] == [registry["code"]]
    gone = await gql(identity, {"id": gid("Child", foreign.id)}, as_="officer")
    assert gone.errors == [] and gone.data == {"child": None}
    viewer = (await gql(VIEWER, as_="officer")).ok()["viewer"]
    assert viewer["grants"] == [{"role": "GOVERNMENT_OFFICER", "jurisdiction": "360721"}]


async def set_status(engine: AsyncEngine, provider: uuid.UUID, status: ProviderStatus) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(Provider).where(Provider.id == provider).values(status=status)
        )


async def test_a_suspended_provider_stops_working_on_the_next_request(
    gql: GraphQLClient, engine: AsyncEngine, world: World, registry: dict[str, Any]
) -> None:
    for login in ("ngo", "ngo_worker"):
        assert (await gql(NEEDS, as_=login)).ok()["needs"]["nodes"] == [{"id": registry["need"]}]

    await set_status(engine, world.providers["ngo"], ProviderStatus.SUSPENDED)

    for login in ("ngo", "ngo_worker"):
        for query in (NEEDS, VIEWER):
            unauthenticated(await gql(query, as_=login))
    # Other providers carry on.
    assert (await gql(NEEDS, as_="business")).ok()["needs"]["nodes"] == [{"id": registry["need"]}]
    # The directory shows the suspension to those still active.
    providers = await gql("{ providers { nodes { name status } } }", as_="officer")
    statuses = {n["name"]: n["status"] for n in providers.ok()["providers"]["nodes"]}
    assert statuses["春苗助学会"] == "SUSPENDED"

    await set_status(engine, world.providers["ngo"], ProviderStatus.ACTIVE)
    assert (await gql(VIEWER, as_="ngo")).ok()["viewer"]["login"] == "ngo"


# --- a member of two providers ----------------------------------------------------------------


async def test_a_member_of_two_providers_must_say_which(
    http: httpx.AsyncClient, engine: AsyncEngine, world: World
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(RoleGrant).values(
                member_id=world.members["ngo"],
                provider_id=world.providers["xing_ngo"],
                role=Role.WORKER,
                jurisdiction=OTHER_COUNTY,
            )
        )

    async def viewer(**headers: str) -> GraphQLResponse:
        response = await http.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"X-Hub-Dev-Member": "ngo", **headers},
        )
        body = response.json()
        return GraphQLResponse(response.status_code, body.get("data"), body.get("errors") or [])

    unauthenticated(await viewer())
    chosen = await viewer(**{"X-Hub-Dev-Provider": str(world.providers["xing_ngo"])})
    assert chosen.ok()["viewer"] == {
        "login": "ngo",
        "provider": {"name": "兴国互助社"},
        "grants": [{"role": "WORKER", "jurisdiction": OTHER_COUNTY}],
    }
    other = await viewer(**{"X-Hub-Dev-Provider": str(world.providers["ngo"])})
    assert other.ok()["viewer"]["provider"] == {"name": "春苗助学会"}
    # A provider the member has no role in, or no UUID at all.
    unauthenticated(await viewer(**{"X-Hub-Dev-Provider": str(world.providers["business"])}))
    [message] = unauthenticated(await viewer(**{"X-Hub-Dev-Provider": "not-a-uuid"}))
    assert "UUID" in message
