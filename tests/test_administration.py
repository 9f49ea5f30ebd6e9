"""Administration over GraphQL: providers, members and roles, clients, the audit and access
logs, statistics; and the guardian's consent on identities shared with a claimant."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from strawberry.relay import GlobalID

from hub.db.models import GuardianConsent
from hub.demo import seed_demo
from hub.demo.access import seed_access
from hub.domain import identity
from hub.settings import Settings
from hub.vocabulary import ConsentScope
from tests.db_state import truncate
from tests.graphql import GraphQLClient
from tests.test_object_level import open_need, register
from tests.world import COUNTY, OTHER_COUNTY, VILLAGE, World


def gid(kind: str, value: uuid.UUID) -> str:
    return str(GlobalID(kind, str(value)))


CREATE_PROVIDER = """mutation($input: CreateProviderInput!) {
  createProvider(input: $input) { provider { id name status version } } }"""
SUSPEND = """mutation($input: SetProviderStatusInput!) {
  suspendProvider(input: $input) { provider { status version } } }"""
REGISTER_CLIENT = """mutation($input: RegisterClientInput!) {
  registerClient(input: $input) { clientSecret client { clientId scopes grants { role } } } }"""
ROTATE = """mutation($id: String!) {
  rotateClient(input: {clientId: $id}) { clientSecret } }"""
REVOKE_CLIENT = (
    """mutation($id: String!) { revokeClient(clientId: $id) { client { revokedAt } } }"""
)


async def test_a_platform_admin_creates_and_suspends_providers(
    gql: GraphQLClient, world: World
) -> None:
    created = await gql(
        CREATE_PROVIDER,
        {
            "input": {
                "name": "赣南助学会",
                "kind": "NGO",
                "jurisdictions": [COUNTY],
                "categories": ["EDUCATION"],
            }
        },
        as_="admin",
    )
    provider = created.ok()["createProvider"]["provider"]
    assert provider["status"] == "ACTIVE"
    refused = await gql(
        CREATE_PROVIDER,
        {"input": {"name": "x", "kind": "NGO", "jurisdictions": ["44"], "categories": []}},
        as_="admin",
    )
    assert refused.codes == ["FORBIDDEN"]  # beyond the admin's jurisdiction
    not_admin = await gql(
        CREATE_PROVIDER,
        {"input": {"name": "x", "kind": "NGO", "jurisdictions": [COUNTY], "categories": []}},
        as_="officer",
    )
    assert not_admin.codes == ["FORBIDDEN"]
    reason = {"reason": "fraud under investigation"}
    stale = await gql(
        SUSPEND, {"input": {"id": provider["id"], "version": 7, **reason}}, as_="admin"
    )
    assert stale.codes == ["STALE_VERSION"]
    suspended = await gql(
        SUSPEND, {"input": {"id": provider["id"], "version": 1, **reason}}, as_="admin"
    )
    assert suspended.ok()["suspendProvider"]["provider"] == {"status": "SUSPENDED", "version": 2}


async def test_suspending_a_provider_stops_its_members(gql: GraphQLClient, world: World) -> None:
    assert (await gql("{ viewer { login } }", as_="ngo")).ok()
    await gql(
        SUSPEND,
        {"input": {"id": gid("Provider", world.providers["ngo"]), "version": 1, "reason": "r"}},
        as_="admin",
    )
    assert (await gql("{ viewer { login } }", as_="ngo")).codes == ["UNAUTHENTICATED"]


async def test_roles_are_granted_within_ones_own_reach_and_revoked_live(
    gql: GraphQLClient, world: World
) -> None:
    grant = """mutation($input: GrantRoleInput!) {
      grantRole(input: $input) { grant { id role jurisdiction } } }"""
    given = await gql(
        grant,
        {
            "input": {
                "memberId": gid("Member", world.members["ngo_worker"]),
                "providerId": gid("Provider", world.providers["ngo"]),
                "role": "COORDINATOR",
                "jurisdiction": OTHER_COUNTY,
            }
        },
        as_="admin",
    )
    grant_id = given.ok()["grantRole"]["grant"]["id"]
    viewer = "{ viewer { grants { role jurisdiction } } }"
    grants = (await gql(viewer, as_="ngo_worker")).ok()["viewer"]["grants"]
    assert {"role": "COORDINATOR", "jurisdiction": OTHER_COUNTY} in grants
    listed = await gql(
        "query($p: ID!) { roleGrants(providerId: $p) { id member { login } } }",
        {"p": gid("Provider", world.providers["ngo"])},
        as_="admin",
    )
    assert grant_id in {g["id"] for g in listed.ok()["roleGrants"]}
    outsider = await gql(
        "mutation($id: ID!) { revokeRole(id: $id) { grant { revokedAt } } }",
        {"id": grant_id},
        as_="officer",
    )
    assert outsider.codes == ["NOT_FOUND"]  # beyond their reach, the grant is not there
    revoked = await gql(
        "mutation($id: ID!) { revokeRole(id: $id) { grant { revokedAt } } }",
        {"id": grant_id},
        as_="admin",
    )
    assert revoked.ok()["revokeRole"]["grant"]["revokedAt"]
    grants = (await gql(viewer, as_="ngo_worker")).ok()["viewer"]["grants"]
    assert {"role": "COORDINATOR", "jurisdiction": OTHER_COUNTY} not in grants
    myself = await gql(
        grant,
        {
            "input": {
                "memberId": gid("Member", world.members["admin"]),
                "providerId": gid("Provider", world.providers["gan_bureau"]),
                "role": "GOVERNMENT_OFFICER",
                "jurisdiction": COUNTY,
            }
        },
        as_="admin",
    )
    assert myself.codes == ["FORBIDDEN"]  # nobody grants themselves a role
    business_officer = await gql(
        grant,
        {
            "input": {
                "memberId": gid("Member", world.members["business"]),
                "providerId": gid("Provider", world.providers["business"]),
                "role": "GOVERNMENT_OFFICER",
                "jurisdiction": COUNTY,
            }
        },
        as_="admin",
    )
    assert business_officer.codes == ["FORBIDDEN"]  # a business has no government officer


async def test_clients_are_registered_rotated_and_revoked(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    registered = await gql(
        REGISTER_CLIENT,
        {
            "input": {
                "providerId": gid("Provider", world.providers["gan_bureau"]),
                "name": "county case system",
                "authMethod": "client_secret_basic",
                "grantTypes": ["client_credentials"],
                "scopes": ["register:read"],
                "grants": [{"role": "GOVERNMENT_OFFICER", "jurisdiction": COUNTY}],
            }
        },
        as_="admin",
    )
    payload = registered.ok()["registerClient"]
    client_id, secret = payload["client"]["clientId"], payload["clientSecret"]
    form = {"grant_type": "client_credentials"}
    assert (await http.post("/oauth/token", data=form, auth=(client_id, secret))).status_code == 200
    listed = await gql(
        "query($p: ID!) { clients(providerId: $p) { clientId } }",
        {"p": gid("Provider", world.providers["gan_bureau"])},
        as_="admin",
    )
    assert client_id in {c["clientId"] for c in listed.ok()["clients"]}
    assert "clientSecret" not in str(listed.data)
    rotated = (await gql(ROTATE, {"id": client_id}, as_="admin")).ok()["rotateClient"]
    assert (await http.post("/oauth/token", data=form, auth=(client_id, secret))).status_code == 401
    new_secret = rotated["clientSecret"]
    token = await http.post("/oauth/token", data=form, auth=(client_id, new_secret))
    assert token.status_code == 200
    assert (await gql(REVOKE_CLIENT, {"id": client_id}, as_="officer")).codes == ["NOT_FOUND"]
    assert (await gql(REVOKE_CLIENT, {"id": client_id}, as_="admin")).ok()
    after = await gql("{ viewer { clientId } }", token=token.json()["access_token"])
    assert after.codes == ["UNAUTHENTICATED"]


async def test_a_client_cannot_hold_a_wider_role_than_its_registrar(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:  # the NGO's coordinator becomes its admin
        await connection.execute(
            text("UPDATE role_grants SET role = 'provider_admin' WHERE member_id = :m"),
            {"m": world.members["ngo"]},
        )
    base = {
        "providerId": gid("Provider", world.providers["ngo"]),
        "name": "ngo back end",
        "authMethod": "client_secret_basic",
        "grantTypes": ["client_credentials"],
        "scopes": ["register:read"],
    }
    own = await gql(
        REGISTER_CLIENT,
        {"input": {**base, "grants": [{"role": "WORKER", "jurisdiction": COUNTY}]}},
        as_="ngo",
    )
    assert own.ok()["registerClient"]["clientSecret"]
    for role in ("GOVERNMENT_OFFICER", "PLATFORM_ADMIN"):
        wider = await gql(
            REGISTER_CLIENT,
            {"input": {**base, "grants": [{"role": role, "jurisdiction": COUNTY}]}},
            as_="ngo",
        )
        assert wider.codes == ["FORBIDDEN"], role
    elsewhere = await gql(
        REGISTER_CLIENT,
        {
            "input": {
                **base,
                "providerId": gid("Provider", world.providers["business"]),
                "grants": [{"role": "WORKER", "jurisdiction": COUNTY}],
            }
        },
        as_="ngo",
    )
    assert elsewhere.codes == ["FORBIDDEN"]
    bad_redirect = await gql(
        REGISTER_CLIENT,
        {
            "input": {
                **base,
                "grantTypes": ["authorization_code"],
                "redirectUris": ["https://user:pw@app.example.org/cb"],
            }
        },
        as_="ngo",
    )
    assert bad_redirect.codes == ["BAD_USER_INPUT"]


async def test_identity_reads_are_logged_and_the_log_is_for_officials_and_auditors(
    gql: GraphQLClient, world: World
) -> None:
    child = await register(gql, "officer", VILLAGE)
    read = 'query($id: ID!) { child(id: $id) { identity(purpose: "home visit") { fullName } } }'
    assert (await gql(read, {"id": child}, as_="officer")).ok()["child"]["identity"]
    assert (await gql(read, {"id": child}, as_="ngo")).ok()["child"]["identity"] is None
    log = "query($id: ID!) { accessLog(childId: $id) { edges { node { memberLogin purpose } } } }"
    for reader in ("officer", "auditor"):
        edges = (await gql(log, {"id": child}, as_=reader)).ok()["accessLog"]["edges"]
        assert [e["node"] for e in edges] == [{"memberLogin": "officer", "purpose": "home visit"}]
    assert (await gql(log, {"id": child}, as_="ngo")).codes == ["FORBIDDEN"]
    assert (await gql(log, {"id": child}, as_="foreign_officer")).codes == ["NOT_FOUND"]


async def test_auditors_read_the_audit_log_and_aggregates_only(
    gql: GraphQLClient, world: World
) -> None:
    child = await register(gql, "officer", VILLAGE)
    await open_need(gql, "officer", child)
    events = "{ auditEvents(first: 10) { edges { node { action regionCode clientId } } } }"
    seen = (await gql(events, as_="auditor")).ok()["auditEvents"]["edges"]
    assert {e["node"]["action"] for e in seen} == {"child.registered", "need.opened"}
    assert all(e["node"]["clientId"] for e in seen)  # through which client
    assert (await gql(events, as_="foreign_officer")).codes == ["FORBIDDEN"]
    stats = "{ needStatistics { category status count } }"
    counts = (await gql(stats, as_="auditor")).ok()["needStatistics"]
    assert counts == [{"category": "EDUCATION", "status": "OPEN", "count": 1}]
    nothing = "query($id: ID!) { child(id: $id) { code } }"
    assert (await gql(nothing, {"id": child}, as_="auditor")).ok()["child"] is None
    children = "{ children { edges { node { code } } } }"
    assert (await gql(children, as_="auditor")).ok()["children"]["edges"] == []
    admin_reads = (await gql(events, as_="admin")).ok()["auditEvents"]["edges"]
    assert {"child.registered", "need.opened"} <= {e["node"]["action"] for e in admin_reads}


async def test_identity_reaches_a_claimant_only_with_standing_consent(
    gql: GraphQLClient, world: World, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = await register(gql, "officer", VILLAGE)
    child_uuid = uuid.UUID(GlobalID.from_id(child).node_id)
    claimed: set[uuid.UUID] = set()

    async def claims(
        session: AsyncSession, provider_id: uuid.UUID, child_ids: Iterable[uuid.UUID]
    ) -> set[uuid.UUID]:
        return {c for c in child_ids if c in claimed and provider_id == world.providers["ngo"]}

    monkeypatch.setattr(identity, "active_claimant_children", claims)
    read = 'query($id: ID!) { child(id: $id) { identity(purpose: "deliver a coat") { fullName } } }'

    async def seen(login: str) -> object:
        return (await gql(read, {"id": child}, as_=login)).ok()["child"]["identity"]

    assert await seen("ngo") is None  # no claim
    claimed.add(child_uuid)
    assert await seen("ngo") is None  # a claim, but no consent
    async with engine.begin() as connection:
        await connection.execute(
            insert(GuardianConsent).values(
                child_id=child_uuid,
                scope=ConsentScope.IDENTITY,
                given_by="奶奶",
                given_at=datetime.now(UTC),
            )
        )
    assert await seen("ngo") == {"fullName": "王小明"}
    assert await seen("business") is None  # another provider holds no claim
    async with engine.begin() as connection:
        await connection.execute(update(GuardianConsent).values(withdrawn_at=datetime.now(UTC)))
    assert await seen("ngo") is None  # consent withdrawn


async def test_demo_access_gives_every_member_a_way_in(
    engine: AsyncEngine, settings: Settings, http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    async with engine.begin() as connection:
        await truncate(connection, "regions, providers, members")
    summary = await seed_demo(engine, id_hash_key=b"k" * 32, children=60)
    assert summary is not None
    access = await seed_access(engine, settings, summary.members)
    assert {m.provider_id for m in summary.members} == set(access.apps)
    assert len({m.provider_kind for m in access.machines}) == len(access.machines) == 7
    for machine in access.machines:
        token = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(machine.client_id, machine.client_secret),
        )
        viewer = await gql("{ viewer { clientId } }", token=token.json()["access_token"])
        assert viewer.ok()["viewer"]["clientId"] == machine.client_id
