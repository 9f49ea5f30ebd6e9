"""Mutations that invite members and grant or revoke roles, and the grants an admin manages."""

from __future__ import annotations

import strawberry

from hub.domain import members
from hub.resolvers.ids import uuid_of
from hub.schema.context import Info
from hub.schema.inputs import GrantRoleInput, InviteMemberInput
from hub.schema.members import InviteMemberPayload, RoleGrant, RoleGrantPayload


async def invite_member(info: Info, input: InviteMemberInput) -> InviteMemberPayload:
    principal = info.context.require_principal()
    settings = info.context.settings
    async with info.context.sessions.begin() as session:
        invited = await members.invite_member(
            session,
            principal,
            provider_id=uuid_of(input.provider_id, "Provider", field="providerId"),
            login=input.login,
            display_name=input.display_name,
            role=input.role,
            jurisdiction=input.jurisdiction,
            invitation_ttl=settings.invitation_ttl,
        )
    return InviteMemberPayload.from_domain(invited, settings.public_url)


async def grant_role(info: Info, input: GrantRoleInput) -> RoleGrantPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        view = await members.grant_role(
            session,
            principal,
            member_id=uuid_of(input.member_id, "Member", field="memberId"),
            provider_id=uuid_of(input.provider_id, "Provider", field="providerId"),
            role=input.role,
            jurisdiction=input.jurisdiction,
        )
    return RoleGrantPayload(grant=RoleGrant.from_view(view))


async def revoke_role(info: Info, id: strawberry.ID) -> RoleGrantPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        view = await members.revoke_role(session, principal, uuid_of(id, "RoleGrant"))
    return RoleGrantPayload(grant=RoleGrant.from_view(view))


async def resolve_role_grants(info: Info, provider_id: strawberry.ID) -> list[RoleGrant]:
    principal = info.context.require_principal()
    async with info.context.sessions() as session:
        found = await members.grants_of_provider(
            session, principal, uuid_of(provider_id, "Provider", field="providerId")
        )
    return [RoleGrant.from_view(grant, member) for grant, member in found]
