"""Aggregates of the register: counts of needs, never a single child or need.

For auditors and anyone else who may read statistics within their jurisdictions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for
from hub.auth.principal import Principal
from hub.db.models import Need
from hub.domain.errors import Forbidden
from hub.domain.jurisdiction import checked_prefix, narrow, within
from hub.vocabulary import NeedCategory, NeedStatus


@dataclass(frozen=True)
class NeedCount:
    category: NeedCategory
    status: NeedStatus
    count: int


async def need_counts(
    session: AsyncSession, principal: Principal, jurisdiction: str | None = None
) -> list[NeedCount]:
    allowed = jurisdictions_for(principal, Permission.READ_STATISTICS)
    if not allowed:
        raise Forbidden("statistics are for roles that may read them")
    requested = checked_prefix(principal, Permission.READ_STATISTICS, jurisdiction or None)
    rows = await session.execute(
        select(Need.category, Need.status, func.count())
        .where(within(Need.region_code, narrow(allowed, requested)))
        .group_by(Need.category, Need.status)
        .order_by(Need.category, Need.status)
    )
    return [NeedCount(category, status, count) for category, status, count in rows]
