"""Members and their roles: inviting people, granting and revoking roles within jurisdictions.

Who may grant what is the policy's (``may_grant``): nobody grants a role or a jurisdiction wider
than their own, a provider's kind limits its roles, and only platform admins reach into other
providers. A grant's jurisdiction must also lie within one of its provider's jurisdictions.

A role at a provider is granted only to a member who already holds one there: a person joins a
provider by accepting an invitation, never by someone else's grant. An invitation reads the same
whether or not its login exists anywhere; for an existing login it is an offer that takes effect
when the person accepts it by signing in with their own password.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.passwords import new_token, token_digest
from hub.auth.policy import may_grant
from hub.auth.principal import Principal, covers
from hub.db.models import Invitation, Member, Provider, RoleGrant
from hub.domain import audit
from hub.domain.clock import utcnow
from hub.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.domain.jurisdiction import validate_prefix
from hub.vocabulary import ProviderStatus, Role

LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,99}$")


@dataclass(frozen=True)
class GrantView:
    id: uuid.UUID
    provider_id: uuid.UUID
    role: Role
    jurisdiction: str
    granted_at: datetime
    revoked_at: datetime | None
    member_id: uuid.UUID | None
    client_pk: uuid.UUID | None
    granted_by_member_id: uuid.UUID | None


@dataclass(frozen=True)
class MemberView:
    id: uuid.UUID
    login: str
    display_name: str


@dataclass(frozen=True)
class Invited:
    member: MemberView
    grant: GrantView
    # Shown once: the hub keeps only its hash.
    invitation_token: str
    expires_at: datetime


def grant_view(grant: RoleGrant) -> GrantView:
    return GrantView(
        id=grant.id,
        provider_id=grant.provider_id,
        role=grant.role,
        jurisdiction=grant.jurisdiction,
        granted_at=grant.granted_at,
        revoked_at=grant.revoked_at,
        member_id=grant.member_id,
        client_pk=grant.oauth_client_id,
        granted_by_member_id=grant.granted_by_member_id,
    )


def member_view(member: Member) -> MemberView:
    return MemberView(id=member.id, login=member.login, display_name=member.display_name)


async def provider_for_grant(
    session: AsyncSession, principal: Principal, provider_id: uuid.UUID, role: Role, where: str
) -> tuple[Provider, str]:
    """The provider and the checked jurisdiction, if the principal may grant ``role`` there."""
    jurisdiction = validate_prefix(where)
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("no such provider", field="providerId")
    if provider.status is not ProviderStatus.ACTIVE:
        raise Conflict("the provider is suspended")
    refusal = may_grant(
        principal, role, jurisdiction, provider_id=provider.id, provider_kind=provider.kind
    )
    if refusal is not None:
        raise Forbidden(refusal)
    if not any(covers(own, jurisdiction) for own in provider.jurisdictions):
        raise InvalidInput(
            "the jurisdiction lies outside the provider's jurisdictions", field="jurisdiction"
        )
    return provider, jurisdiction


def check_login(login: str) -> str:
    cleaned = login.strip().lower()
    if not LOGIN_PATTERN.match(cleaned):
        raise InvalidInput(
            "a login has 3 to 100 characters: lower-case letters, digits, '.', '_' or '-'",
            field="login",
        )
    return cleaned


async def invite_member(
    session: AsyncSession,
    principal: Principal,
    *,
    provider_id: uuid.UUID,
    login: str,
    display_name: str,
    role: Role,
    jurisdiction: str,
    invitation_ttl: int,
) -> Invited:
    provider, where = await provider_for_grant(session, principal, provider_id, role, jurisdiction)
    login = check_login(login)
    name = display_name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("give a display name of 1 to 200 characters", field="displayName")
    # The same work and the same answer whether or not the login exists, at this provider,
    # another one or none: the invitation is an offer, and its grant is made only when the
    # person accepts it (hub/auth/login.py ``accept_invitation``). The payload echoes what the
    # inviter gave, never what the hub stores about an existing person.
    member_id = await _member_for_login(session, login, name)
    now = utcnow()
    grant_id = uuid.uuid4()
    token = new_token(32)
    expires = now + timedelta(seconds=invitation_ttl)
    session.add(
        Invitation(
            token_hash=token_digest(token),
            member_id=member_id,
            invited_by_member_id=principal.member_id,
            expires_at=expires,
            provider_id=provider.id,
            role=role,
            jurisdiction=where,
            grant_id=grant_id,
        )
    )
    await session.flush()
    audit.record(
        session,
        principal,
        "member.invited",
        "member",
        member_id,
        {"login": login, "provider_id": str(provider.id), "role": role.value},
        region_code=where,
    )
    # The grant the invitation offers, as it will read once accepted (never added here).
    offered = grant_view(
        RoleGrant(
            id=grant_id,
            provider_id=provider.id,
            role=role,
            jurisdiction=where,
            granted_at=now,
            revoked_at=None,
            member_id=member_id,
            oauth_client_id=None,
            granted_by_member_id=principal.member_id,
        )
    )
    return Invited(
        MemberView(id=member_id, login=login, display_name=name), offered, token, expires
    )


async def _member_for_login(session: AsyncSession, login: str, display_name: str) -> uuid.UUID:
    """The id of the member with this login, made now if there is none.

    The same two statements either way, so that the time taken does not tell whether the
    login existed; ON CONFLICT keeps two concurrent invitations of one new login from failing
    on the unique login (the second waits for the first and then finds its row).
    """
    await session.execute(
        pg_insert(Member)
        .values(id=uuid.uuid4(), login=login, display_name=display_name)
        .on_conflict_do_nothing(index_elements=[Member.login])
    )
    found: uuid.UUID = (
        await session.execute(select(Member.id).where(Member.login == login))
    ).scalar_one()
    return found


async def _belongs_to(session: AsyncSession, member_id: uuid.UUID, provider_id: uuid.UUID) -> bool:
    """Whether the member holds a live role at the provider."""
    held = await session.scalar(
        select(RoleGrant.id)
        .where(
            RoleGrant.member_id == member_id,
            RoleGrant.provider_id == provider_id,
            RoleGrant.revoked_at.is_(None),
        )
        .limit(1)
    )
    return held is not None


async def grant_role(
    session: AsyncSession,
    principal: Principal,
    *,
    member_id: uuid.UUID,
    provider_id: uuid.UUID,
    role: Role,
    jurisdiction: str,
) -> GrantView:
    if member_id == principal.member_id:
        raise Forbidden("nobody grants themselves a role")
    provider, where = await provider_for_grant(session, principal, provider_id, role, jurisdiction)
    if not await _belongs_to(session, member_id, provider.id):
        # A person joins a provider only by accepting an invitation (their own agreement),
        # never by a grant. Whether the member exists elsewhere is not the grantor's to learn:
        # an unknown member and another provider's member get the same answer.
        raise NotFound("no such member at this provider", field="memberId")
    existing = await session.scalar(
        select(RoleGrant).where(
            RoleGrant.member_id == member_id,
            RoleGrant.provider_id == provider.id,
            RoleGrant.role == role,
            RoleGrant.jurisdiction == where,
            RoleGrant.revoked_at.is_(None),
        )
    )
    if existing is not None:
        return grant_view(existing)  # granting what is already held changes nothing
    grant = RoleGrant(
        id=uuid.uuid4(),
        member_id=member_id,
        provider_id=provider.id,
        role=role,
        jurisdiction=where,
        granted_by_member_id=principal.member_id,
    )
    session.add(grant)
    await session.flush()
    await session.refresh(grant)
    audit.record(
        session,
        principal,
        "role.granted",
        "role_grant",
        grant.id,
        {"member_id": str(member_id), "provider_id": str(provider.id), "role": role.value},
        region_code=where,
    )
    return grant_view(grant)


async def _manageable(session: AsyncSession, principal: Principal, grant: RoleGrant) -> bool:
    provider = await session.get(Provider, grant.provider_id)
    return provider is not None and (
        may_grant(
            principal,
            grant.role,
            grant.jurisdiction,
            provider_id=provider.id,
            provider_kind=provider.kind,
        )
        is None
    )


async def revoke_role(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID
) -> GrantView:
    """End a grant; it stops working on the grantee's next request. Outside one's reach, a
    grant is as good as absent."""
    grant = await session.get(RoleGrant, grant_id, with_for_update=True)
    if grant is None or not await _manageable(session, principal, grant):
        raise NotFound("no such role grant")
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        grant.revoked_by_member_id = principal.member_id
        audit.record(
            session,
            principal,
            "role.revoked",
            "role_grant",
            grant.id,
            {"role": grant.role.value, "provider_id": str(grant.provider_id)},
            region_code=grant.jurisdiction,
        )
        await session.flush()
    return grant_view(grant)


async def grants_of_provider(
    session: AsyncSession, principal: Principal, provider_id: uuid.UUID
) -> list[tuple[GrantView, MemberView | None]]:
    """The live grants at a provider that the principal could grant or revoke itself."""
    rows = (
        await session.execute(
            select(RoleGrant, Member)
            .outerjoin(Member, Member.id == RoleGrant.member_id)
            .where(RoleGrant.provider_id == provider_id, RoleGrant.revoked_at.is_(None))
            .order_by(RoleGrant.granted_at, RoleGrant.id)
        )
    ).all()
    found: list[tuple[GrantView, MemberView | None]] = []
    for grant, member in rows:
        if await _manageable(session, principal, grant):
            found.append((grant_view(grant), None if member is None else member_view(member)))
    return found
