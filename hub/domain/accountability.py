"""Accountability: how each provider's claims ended, so that "claimed but never delivered" shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.models import Claim, Need
from hub.domain.clock import as_utc
from hub.domain.errors import Forbidden
from hub.domain.jurisdiction import reach, within
from hub.domain.ledger import effectively_active, overdue
from hub.vocabulary import ClaimStatus


@dataclass(frozen=True)
class ProviderRecord:
    provider_id: uuid.UUID
    claims_made: int
    active: int
    fulfilled: int
    released: int
    expired: int
    failed: int
    revoked: int
    # Ended (any way but fulfilled) with nothing delivered: the pledge that came to nothing.
    never_delivered: int
    median_days_to_verified: float | None


async def accountability(
    session: AsyncSession, principal: Principal, jurisdiction: str | None, since: datetime | None
) -> list[ProviderRecord]:
    """Per provider, the claims made on needs in the jurisdiction (since ``since``).

    Officials see every provider; a provider without oversight sees its own record only.
    """
    since = None if since is None else as_utc(since, "since")
    if may(principal, Permission.OVERSEE):
        prefixes = reach(principal, Permission.OVERSEE, jurisdiction)
        own_only = False
    elif may(principal, Permission.CLAIM):
        prefixes = reach(principal, Permission.CLAIM, jurisdiction)
        own_only = True
    else:
        raise Forbidden("accountability is for officials and for providers' own claims")
    expired = or_(Claim.status == ClaimStatus.EXPIRED, overdue())
    ended_without = and_(
        or_(
            Claim.status.in_([ClaimStatus.RELEASED, ClaimStatus.FAILED, ClaimStatus.REVOKED]),
            expired,
        ),
        Claim.delivered_quantity == 0,
    )
    seconds = func.extract("epoch", Claim.ended_at - Claim.claimed_at)
    query = (
        select(
            Claim.provider_id,
            func.count(),
            func.count().filter(effectively_active()),
            func.count().filter(Claim.status == ClaimStatus.FULFILLED),
            func.count().filter(Claim.status == ClaimStatus.RELEASED),
            func.count().filter(expired),
            func.count().filter(Claim.status == ClaimStatus.FAILED),
            func.count().filter(Claim.status == ClaimStatus.REVOKED),
            func.count().filter(ended_without),
            func.percentile_cont(0.5)
            .within_group(seconds)
            .filter(Claim.status == ClaimStatus.FULFILLED),
        )
        .join(Need, Need.id == Claim.need_id)
        .where(within(Need.region_code, prefixes))
        .group_by(Claim.provider_id)
        .order_by(func.count().desc(), Claim.provider_id)
    )
    if own_only:
        query = query.where(Claim.provider_id == principal.provider_id)
    if since is not None:
        query = query.where(Claim.claimed_at >= since)
    return [
        ProviderRecord(
            provider_id=row[0],
            claims_made=int(row[1]),
            active=int(row[2]),
            fulfilled=int(row[3]),
            released=int(row[4]),
            expired=int(row[5]),
            failed=int(row[6]),
            revoked=int(row[7]),
            never_delivered=int(row[8]),
            median_days_to_verified=None if row[9] is None else round(float(row[9]) / 86400, 2),
        )
        for row in (await session.execute(query)).all()
    ]
