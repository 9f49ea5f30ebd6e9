"""What a provider admin learns and can do about people outside their provider: an invitation
reads the same whether its login exists anywhere or not, and a person joins a provider only by
accepting an invitation with their own password, never by another provider's grant."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import GlobalID

from hub.auth.passwords import hash_secret, verify_secret
from hub.db.models import MemberCredential, RoleGrant
from hub.settings import Settings
from hub.vocabulary import Role
from tests.graphql import GraphQLClient, GraphQLResponse
from tests.world import CITY, COUNTY, World

PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "a different long passphrase"

INVITE = """mutation($input: InviteMemberInput!) {
  inviteMember(input: $input) {
    member { id login displayName }
    grant { id role jurisdiction grantedAt revokedAt member { login displayName } }
    invitationUrl expiresAt } }"""
GRANT = """mutation($input: GrantRoleInput!) {
  grantRole(input: $input) { grant { id role jurisdiction } } }"""
GRANTS = "query($p: ID!) { roleGrants(providerId: $p) { id role member { login } } }"


def gid(kind: str, value: uuid.UUID) -> str:
    return str(GlobalID(kind, str(value)))


@pytest.fixture
async def ngo_admin(engine: AsyncEngine, world: World) -> str:
    """The NGO's coordinator, made its provider admin too: the one who invites and grants."""
    async with engine.begin() as connection:
        await connection.execute(
            insert(RoleGrant).values(
                id=uuid.uuid4(),
                member_id=world.members["ngo"],
                provider_id=world.providers["ngo"],
                role=Role.PROVIDER_ADMIN,
                jurisdiction=CITY,
            )
        )
    return "ngo"


async def invite(gql: GraphQLClient, world: World, login: str, as_: str) -> GraphQLResponse:
    return await gql(
        INVITE,
        {
            "input": {
                "providerId": gid("Provider", world.providers["ngo"]),
                "login": login,
                "displayName": "Li Wei",
                "role": "WORKER",
                "jurisdiction": COUNTY,
            }
        },
        as_=as_,
    )


def token_of(invited: GraphQLResponse) -> str:
    url = invited.ok()["inviteMember"]["invitationUrl"]
    return parse_qs(urlsplit(url).query)["token"][0]


def without_what_differs_anyway(payload: dict[str, Any], login: str) -> dict[str, Any]:
    """The payload with what is fresh on every invitation (ids, times, the token) and the
    login the inviter typed taken out."""
    member = {k: v for k, v in payload["member"].items() if k not in ("id", "login")}
    grant = {k: v for k, v in payload["grant"].items() if k not in ("id", "grantedAt")}
    grant["member"] = {**grant["member"], "login": grant["member"]["login"] == login}
    return {"member": member, "grant": grant}


async def logins_at_ngo(gql: GraphQLClient, world: World, as_: str) -> set[str]:
    listed = await gql(GRANTS, {"p": gid("Provider", world.providers["ngo"])}, as_=as_)
    return {g["member"]["login"] for g in listed.ok()["roleGrants"] if g["member"]}


async def audit_count(engine: AsyncEngine, action: str) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = :a"), {"a": action}
        )
    return int(found or 0)


async def test_an_invitation_reads_the_same_whether_the_login_exists_elsewhere_or_nowhere(
    gql: GraphQLClient, http: httpx.AsyncClient, engine: AsyncEngine, world: World, ngo_admin: str
) -> None:
    elsewhere = await invite(gql, world, "foreign_ngo", ngo_admin)  # a member of xing_ngo
    nowhere = await invite(gql, world, "nobody.anywhere", ngo_admin)
    assert elsewhere.status_code == nowhere.status_code == 200
    first, second = elsewhere.ok()["inviteMember"], nowhere.ok()["inviteMember"]
    assert without_what_differs_anyway(first, "foreign_ngo") == without_what_differs_anyway(
        second, "nobody.anywhere"
    )
    # The name shown is the one the inviter gave, not the one the hub holds for the person.
    assert first["member"]["displayName"] == "Li Wei"
    # Neither is a member yet: an invitation is an offer until its person accepts it.
    assert not {"foreign_ngo", "nobody.anywhere"} & await logins_at_ngo(gql, world, ngo_admin)
    # The link the inviter saw opens the same page for both.
    pages = []
    for invited, login in ((elsewhere, "foreign_ngo"), (nowhere, "nobody.anywhere")):
        page = await http.get("/oauth/invitation", params={"token": token_of(invited)})
        assert page.status_code == 200
        pages.append(re.sub(r'value="[^"]*"', "", page.text).replace(login, "LOGIN"))
    assert pages[0] == pages[1]
    assert await audit_count(engine, "member.invited") == 2


async def test_an_existing_member_joins_only_by_accepting_with_their_own_password(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    ngo_admin: str,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(MemberCredential).values(
                member_id=world.members["foreign_ngo"],
                password_hash=hash_secret(settings, PASSWORD),
            )
        )
    invited = await invite(gql, world, "foreign_ngo", ngo_admin)
    offered_grant = invited.ok()["inviteMember"]["grant"]["id"]
    token = token_of(invited)
    # Whoever holds the link cannot set the password of an account that has one.
    takeover = await http.post(
        "/oauth/invitation",
        data={"token": token, "password": OTHER_PASSWORD, "repeat": OTHER_PASSWORD},
    )
    assert takeover.status_code == 400
    assert "foreign_ngo" not in await logins_at_ngo(gql, world, ngo_admin)
    accepted = await http.post(
        "/oauth/invitation", data={"token": token, "password": PASSWORD, "repeat": PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text
    listed = await gql(GRANTS, {"p": gid("Provider", world.providers["ngo"])}, as_=ngo_admin)
    joined = [
        g for g in listed.ok()["roleGrants"] if (g["member"] or {}).get("login") == "foreign_ngo"
    ]
    assert [(g["id"], g["role"]) for g in joined] == [(offered_grant, "WORKER")]
    async with engine.connect() as connection:
        stored = await connection.scalar(
            select(MemberCredential.password_hash).where(
                MemberCredential.member_id == world.members["foreign_ngo"]
            )
        )
    assert verify_secret(settings, stored, PASSWORD)  # the password is still their own
    again = await http.post(
        "/oauth/invitation", data={"token": token, "password": PASSWORD, "repeat": PASSWORD}
    )
    assert again.status_code == 404  # an invitation works once
    # Now a member of the NGO, they can be granted more there.
    more = await gql(
        GRANT,
        {
            "input": {
                "memberId": gid("Member", world.members["foreign_ngo"]),
                "providerId": gid("Provider", world.providers["ngo"]),
                "role": "COORDINATOR",
                "jurisdiction": COUNTY,
            }
        },
        as_=ngo_admin,
    )
    assert more.ok()["grantRole"]["grant"]["role"] == "COORDINATOR"


async def test_a_provider_admin_cannot_grant_a_role_to_another_providers_member(
    gql: GraphQLClient, engine: AsyncEngine, world: World, ngo_admin: str
) -> None:
    def granting(member_id: uuid.UUID) -> dict[str, Any]:
        return {
            "input": {
                "memberId": gid("Member", member_id),
                "providerId": gid("Provider", world.providers["ngo"]),
                "role": "WORKER",
                "jurisdiction": COUNTY,
            }
        }

    outsider = await gql(GRANT, granting(world.members["foreign_ngo"]), as_=ngo_admin)
    unknown = await gql(GRANT, granting(uuid.uuid4()), as_=ngo_admin)
    assert outsider.codes == unknown.codes == ["NOT_FOUND"]
    # The answer about another provider's member is the one about nobody at all.
    assert outsider.errors == unknown.errors
    assert "foreign_ngo" not in await logins_at_ngo(gql, world, ngo_admin)
    assert await audit_count(engine, "role.granted") == 0
    # Within the provider, granting works as before, and is audited.
    own = await gql(
        GRANT,
        {"input": {**granting(world.members["ngo_worker"])["input"], "role": "COORDINATOR"}},
        as_=ngo_admin,
    )
    assert own.ok()["grantRole"]["grant"]["role"] == "COORDINATOR"
    assert await audit_count(engine, "role.granted") == 1
