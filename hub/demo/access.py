"""Ways into the demo: a password for every demo member, an app per provider that has members,
and a machine client per provider kind, so a newcomer can ask the same query as different
roles and see different answers.

Secrets are made here, shown once by ``hub demo`` and stored only as hashes.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.auth.passwords import hash_secret
from hub.auth.policy import ALL_SCOPES, KIND_ROLES
from hub.db.models import Member, MemberCredential, OAuthClient, Provider, RoleGrant
from hub.demo.providers import DemoMember
from hub.settings import Settings
from hub.vocabulary import ProviderKind, Role

DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"
# The role a demo machine client holds at a provider of each kind.
MACHINE_ROLE = {
    ProviderKind.GOVERNMENT: Role.GOVERNMENT_OFFICER,
    ProviderKind.VILLAGE_OFFICE: Role.CHILD_DIRECTOR,
}


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    client_secret: str
    provider_name: str
    provider_kind: ProviderKind
    # The role it acts with (client_credentials), or None for an app acting for members.
    role: Role | None
    jurisdiction: str | None


@dataclass(frozen=True)
class DemoAccess:
    password: str
    apps: dict[uuid.UUID, DemoClient]
    machines: tuple[DemoClient, ...]


async def seed_access(
    engine: AsyncEngine, settings: Settings, members: Sequence[DemoMember]
) -> DemoAccess:
    """Passwords for ``members``, one app per provider with members, one machine per kind."""
    password = f"demo-{secrets.token_urlsafe(9)}"
    password_hash = hash_secret(settings, password)
    apps: dict[uuid.UUID, DemoClient] = {}
    machines: list[DemoClient] = []
    async with engine.begin() as connection:
        member_ids = dict(
            (
                await connection.execute(
                    select(Member.login, Member.id).where(
                        Member.login.in_([m.login for m in members])
                    )
                )
            ).all()
        )
        await connection.execute(
            insert(MemberCredential),
            [{"member_id": member_ids[m.login], "password_hash": password_hash} for m in members],
        )
        for member in members:
            if member.provider_id in apps:
                continue
            apps[member.provider_id] = await _client(
                connection,
                settings,
                member.provider_id,
                member.provider_name,
                member.provider_kind,
                name=f"Demo app of {member.provider_name}",
                grant_types=["authorization_code", "refresh_token"],
                redirect_uris=[DEMO_REDIRECT_URI],
            )
        # A machine of the platform's own provider would show nothing of the register.
        runs_the_platform = (
            select(RoleGrant.id)
            .where(RoleGrant.provider_id == Provider.id, RoleGrant.role == Role.PLATFORM_ADMIN)
            .exists()
        )
        for kind in ProviderKind:
            provider = (
                await connection.execute(
                    select(Provider.id, Provider.name, Provider.jurisdictions)
                    .where(Provider.kind == kind, ~runs_the_platform)
                    .order_by(Provider.name)
                    .limit(1)
                )
            ).first()
            if provider is None:
                continue
            role = MACHINE_ROLE.get(kind, Role.COORDINATOR)
            assert role in KIND_ROLES[kind]
            machines.append(
                await _client(
                    connection,
                    settings,
                    provider[0],
                    provider[1],
                    kind,
                    name=f"Demo system of {provider[1]}",
                    grant_types=["client_credentials"],
                    redirect_uris=[],
                    role=role,
                    jurisdiction=provider[2][0],
                )
            )
    return DemoAccess(password, apps, tuple(machines))


async def _client(
    connection: AsyncConnection,
    settings: Settings,
    provider_id: uuid.UUID,
    provider_name: str,
    kind: ProviderKind,
    *,
    name: str,
    grant_types: list[str],
    redirect_uris: list[str],
    role: Role | None = None,
    jurisdiction: str | None = None,
) -> DemoClient:
    client_id, secret = f"demo-{secrets.token_urlsafe(8)}", secrets.token_urlsafe(24)
    pk = uuid.uuid4()
    await connection.execute(
        insert(OAuthClient).values(
            id=pk,
            client_id=client_id,
            name=name[:200],
            provider_id=provider_id,
            token_endpoint_auth_method="client_secret_basic",
            secret_hash=hash_secret(settings, secret),
            grant_types=grant_types,
            redirect_uris=redirect_uris,
            scopes=list(ALL_SCOPES),
        )
    )
    if role is not None and jurisdiction is not None:
        await connection.execute(
            insert(RoleGrant).values(
                oauth_client_id=pk, provider_id=provider_id, role=role, jurisdiction=jurisdiction
            )
        )
    return DemoClient(client_id, secret, provider_name, kind, role, jurisdiction)
