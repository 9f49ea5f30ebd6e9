"""Build a principal from live rows: a role revoked a moment ago no longer counts."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Grant, Principal
from hub.db.models import Member, Provider, RoleGrant
from hub.vocabulary import ProviderStatus


async def member_principal(
    session: AsyncSession, login: str, provider_id: uuid.UUID | None = None
) -> Principal | None:
    """The member ``login`` acting for ``provider_id`` (or their only provider).

    None when the member does not exist, holds no live role in an active provider, or holds
    roles in several providers and did not say which one.
    """
    rows = (
        await session.execute(
            select(Member.id, Provider.id, Provider.kind, RoleGrant.role, RoleGrant.jurisdiction)
            .join(RoleGrant, RoleGrant.member_id == Member.id)
            .join(Provider, Provider.id == RoleGrant.provider_id)
            .where(
                Member.login == login,
                RoleGrant.revoked_at.is_(None),
                Provider.status == ProviderStatus.ACTIVE,
            )
        )
    ).all()
    if provider_id is not None:
        rows = [row for row in rows if row[1] == provider_id]
    providers = {row[1] for row in rows}
    if len(providers) != 1:
        return None
    member_id, the_provider, kind = rows[0][0], rows[0][1], rows[0][2]
    return Principal(
        provider_id=the_provider,
        provider_kind=kind,
        member_id=member_id,
        grants=tuple(Grant(role=row[3], jurisdiction=row[4]) for row in rows),
        label=login,
    )
