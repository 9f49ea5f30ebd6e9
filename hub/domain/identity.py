"""Reading a child's identity: only where the policy allows, and never without a record of it.

Officials see the identities of their jurisdiction. A non-government provider sees a child's
identity only while it holds an active claim on the child and the guardian's consent, not
withdrawn, covers sharing the identity with a claimant. Every identity returned writes one
access record (who, when, through which client, for which purpose), in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for
from hub.auth.principal import Principal
from hub.db.arrays import any_of
from hub.db.models import (
    AccessRecord,
    Child,
    ChildIdentity,
    Claim,
    GuardianConsent,
    Member,
    Need,
)
from hub.domain.clock import utcnow
from hub.domain.errors import Forbidden, InvalidInput, NotFound
from hub.domain.jurisdiction import within
from hub.domain.ledger import effectively_active
from hub.domain.pagination import Page, PageRequest, make_page
from hub.vocabulary import ConsentScope

PURPOSE_LIMIT = 200
CURSOR_KIND = "access"


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


async def active_claimant_children(
    session: AsyncSession, provider_id: uuid.UUID, child_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """The children among ``child_ids`` on whose needs ``provider_id`` holds an active claim
    (one past its deadline no longer counts, swept or not)."""
    wanted = list(set(child_ids))
    if not wanted:
        return set()
    rows = await session.scalars(
        select(Need.child_id)
        .join(Claim, Claim.need_id == Need.id)
        .where(
            any_of(Need.child_id, wanted),
            Claim.provider_id == provider_id,
            effectively_active(),
        )
        .distinct()
    )
    return set(rows)


async def consented_children(
    session: AsyncSession, child_ids: Iterable[uuid.UUID], now: datetime
) -> set[uuid.UUID]:
    """Children whose guardian's consent to share the identity with a claimant stands now."""
    wanted = list(set(child_ids))
    if not wanted:
        return set()
    rows = await session.scalars(
        select(GuardianConsent.child_id).where(
            any_of(GuardianConsent.child_id, wanted),
            GuardianConsent.scope == ConsentScope.IDENTITY,
            GuardianConsent.provider_kind.is_(None),
            GuardianConsent.provider_id.is_(None),
            GuardianConsent.given_at <= now,
            GuardianConsent.withdrawn_at.is_(None),
            or_(GuardianConsent.expires_at.is_(None), GuardianConsent.expires_at > now),
        )
    )
    return set(rows)


async def claimed_and_consented(
    session: AsyncSession, principal: Principal, child_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """The children whose identity the principal may see through a claim and consent."""
    reachable = jurisdictions_for(principal, Permission.READ_CLAIMED_IDENTITY)
    if not reachable or not child_ids:
        return set()
    in_reach = set(
        await session.scalars(
            select(Child.id).where(
                any_of(Child.id, child_ids), within(Child.region_code, reachable)
            )
        )
    )
    claimed = await active_claimant_children(session, principal.provider_id, in_reach)
    return claimed & await consented_children(session, claimed, utcnow())


async def read_identities(
    session: AsyncSession, principal: Principal, child_ids: Iterable[uuid.UUID], purpose: str
) -> dict[uuid.UUID, IdentityView]:
    """Identities the principal may see among ``child_ids``, each read written to the access log.

    The caller commits ``session``: the records and the read stand or fall together.
    """
    wanted = list(set(child_ids))
    if not wanted:
        return {}
    official = jurisdictions_for(principal, Permission.READ_IDENTITY)
    allowed: set[uuid.UUID] = set()
    if official:
        allowed |= set(
            await session.scalars(
                select(Child.id).where(
                    any_of(Child.id, wanted), within(Child.region_code, official)
                )
            )
        )
    allowed |= await claimed_and_consented(
        session, principal, [c for c in wanted if c not in allowed]
    )
    if not allowed:
        return {}
    rows = (
        await session.scalars(select(ChildIdentity).where(any_of(ChildIdentity.child_id, allowed)))
    ).all()
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


@dataclass(frozen=True)
class AccessRecordView:
    id: int
    child_id: uuid.UUID
    accessed_at: datetime
    member_id: uuid.UUID | None
    member_login: str | None
    provider_id: uuid.UUID
    client_id: str | None
    purpose: str


async def access_log(
    session: AsyncSession, principal: Principal, child_id: uuid.UUID, page: PageRequest
) -> Page[AccessRecordView]:
    """Who read this child's identity, newest first: for officials and auditors of its region."""
    reach = jurisdictions_for(principal, Permission.READ_ACCESS_LOG)
    if not reach:
        raise Forbidden("the access log is for officials and auditors")
    child = await session.scalar(
        select(Child.id).where(Child.id == child_id, within(Child.region_code, reach))
    )
    if child is None:
        raise NotFound("no such child", field="childId")
    query = (
        select(AccessRecord, Member.login)
        .outerjoin(Member, Member.id == AccessRecord.member_id)
        .where(AccessRecord.child_id == child_id)
    )
    if page.after is not None:
        query = query.where(AccessRecord.id < int(page.after[0]))
    rows = (
        await session.execute(query.order_by(AccessRecord.id.desc()).limit(page.first + 1))
    ).all()
    views = [
        AccessRecordView(
            id=record.id,
            child_id=record.child_id,
            accessed_at=record.accessed_at,
            member_id=record.member_id,
            member_login=login,
            provider_id=record.provider_id,
            client_id=record.client_id,
            purpose=record.purpose,
        )
        for record, login in rows
    ]
    return make_page(views, page, CURSOR_KIND, lambda view: (view.id,))
