"""Reading a child's identity: only where the policy allows, and never without a record of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for
from hub.auth.principal import Principal
from hub.db.models import AccessRecord, Child, ChildIdentity
from hub.domain.errors import InvalidInput
from hub.domain.jurisdiction import within

PURPOSE_LIMIT = 200


@dataclass(frozen=True)
class IdentityView:
    full_name: str
    id_number_tail: str | None
    address: str | None
    guardian_name: str | None
    guardian_relation: str | None
    guardian_phone: str | None


def check_purpose(purpose: str) -> str:
    cleaned = purpose.strip()
    if len(cleaned) < 3 or len(cleaned) > PURPOSE_LIMIT:
        raise InvalidInput(
            f"say why you need the identity, in 3 to {PURPOSE_LIMIT} characters", field="purpose"
        )
    return cleaned


async def read_identities(
    session: AsyncSession, principal: Principal, child_ids: Iterable[uuid.UUID], purpose: str
) -> dict[uuid.UUID, IdentityView]:
    """Identities the principal may see among ``child_ids``, each read written to the access log.

    The caller commits ``session``: the records and the read stand or fall together.
    """
    wanted = list(set(child_ids))
    allowed = jurisdictions_for(principal, Permission.READ_IDENTITY)
    if not wanted or not allowed:
        return {}
    rows = (
        (
            await session.execute(
                select(ChildIdentity)
                .join(Child, Child.id == ChildIdentity.child_id)
                .where(ChildIdentity.child_id.in_(wanted), within(Child.region_code, allowed))
            )
        )
        .scalars()
        .all()
    )
    if rows:
        await session.execute(
            insert(AccessRecord),
            [
                {
                    "child_id": row.child_id,
                    "member_id": principal.member_id,
                    "provider_id": principal.provider_id,
                    "client_id": principal.client_id,
                    "purpose": purpose,
                }
                for row in rows
            ],
        )
    return {
        row.child_id: IdentityView(
            full_name=row.full_name,
            id_number_tail=row.id_number_tail,
            address=row.address,
            guardian_name=row.guardian_name,
            guardian_relation=row.guardian_relation,
            guardian_phone=row.guardian_phone,
        )
        for row in rows
    }
