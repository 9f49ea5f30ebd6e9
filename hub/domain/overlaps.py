"""Overlapping aid: the same kind of help reaching one child from two providers within a window.

A claim is *aid* while it is active or once something was delivered under it (and not
disputed); its date is its last delivery, or when it was made. Two aids overlap when they are of
one category, for one child, from different providers, on different needs (pledges shared on one
divisible need are coordination, not duplication), and their dates lie within the category's
window (``CoordinationRules.overlap_days``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.models import Claim, Delivery, Need
from hub.domain.clock import as_utc
from hub.domain.errors import Forbidden
from hub.domain.jurisdiction import reach, within
from hub.domain.ledger import effectively_active
from hub.domain.rules import CoordinationRules
from hub.vocabulary import DeliveryStatus, NeedCategory

DEFAULT_SINCE = timedelta(days=90)
MAX_OVERLAPS = 500


class AidKind(StrEnum):
    ACTIVE_CLAIM = "active_claim"
    DELIVERY = "delivery"


@dataclass(frozen=True)
class OverlapWarning:
    """Told to a provider as it claims: another provider's aid of the same kind to the child."""

    kind: AidKind
    claim_id: uuid.UUID
    provider_id: uuid.UUID
    category: NeedCategory
    at: datetime
    window_days: int


def _last_delivery() -> Any:
    return (
        select(func.max(Delivery.delivered_at))
        .where(Delivery.claim_id == Claim.id, Delivery.status != DeliveryStatus.DISPUTED)
        .correlate(Claim)
        .scalar_subquery()
    )


async def warnings_for(
    session: AsyncSession,
    principal: Principal,
    child_id: uuid.UUID,
    category: NeedCategory,
    need_id: uuid.UUID,
    rules: CoordinationRules,
) -> tuple[OverlapWarning, ...]:
    window = rules.overlap_window(category)
    delivered_at = _last_delivery()
    rows = (
        await session.execute(
            select(
                Claim.id,
                Claim.provider_id,
                Claim.claimed_at,
                delivered_at.label("delivered_at"),
                func.coalesce(delivered_at >= func.now() - window, False).label("recent"),
            )
            .join(Need, Need.id == Claim.need_id)
            .where(
                Need.child_id == child_id,
                Need.category == category,
                Need.id != need_id,
                Claim.provider_id != principal.provider_id,
                or_(effectively_active(), delivered_at >= func.now() - window),
            )
            .order_by(Claim.claimed_at)
        )
    ).all()
    warnings = []
    for claim_id, provider_id, claimed_at, last_delivered, recent in rows:
        warnings.append(
            OverlapWarning(
                kind=AidKind.DELIVERY if recent else AidKind.ACTIVE_CLAIM,
                claim_id=claim_id,
                provider_id=provider_id,
                category=category,
                at=last_delivered if recent else claimed_at,
                window_days=window.days,
            )
        )
    return tuple(warnings)


@dataclass(frozen=True)
class Overlap:
    child_id: uuid.UUID
    category: NeedCategory
    # The earlier aid first.
    claim_ids: tuple[uuid.UUID, uuid.UUID]
    days_apart: float
    latest_at: datetime


async def list_overlaps(
    session: AsyncSession,
    principal: Principal,
    jurisdiction: str | None,
    since: datetime | None,
    rules: CoordinationRules,
    *,
    limit: int = MAX_OVERLAPS,
) -> list[Overlap]:
    """Overlapping aid in the jurisdiction whose later half happened since ``since`` (by
    default the last 90 days), most recent first."""
    if not may(principal, Permission.OVERSEE):
        raise Forbidden("overlapping aid is for officials")
    since = None if since is None else as_utc(since, "since")
    prefixes = reach(principal, Permission.OVERSEE, jurisdiction)
    aid = (
        select(
            Claim.id.label("claim_id"),
            Claim.provider_id,
            Need.child_id,
            Need.category,
            Need.id.label("need_id"),
            func.coalesce(_last_delivery(), Claim.claimed_at).label("aid_at"),
        )
        .join(Need, Need.id == Claim.need_id)
        .where(
            within(Need.region_code, prefixes),
            or_(effectively_active(), Claim.delivered_quantity > 0),
        )
        .cte("aid")
    )
    a, b = aid.alias("a"), aid.alias("b")
    window = case(
        {category: rules.overlap_window(category) for category in NeedCategory},
        value=a.c.category,
    )
    latest = func.greatest(a.c.aid_at, b.c.aid_at)
    earliest = func.least(a.c.aid_at, b.c.aid_at)
    start = since if since is not None else func.now() - DEFAULT_SINCE
    rows = (
        await session.execute(
            select(
                a.c.child_id,
                a.c.category,
                a.c.claim_id,
                a.c.aid_at,
                b.c.claim_id,
                b.c.aid_at,
                latest.label("latest"),
                func.extract("epoch", latest - earliest).label("apart"),
            )
            .select_from(a)
            .join(
                b,
                and_(
                    a.c.child_id == b.c.child_id,
                    a.c.category == b.c.category,
                    a.c.provider_id != b.c.provider_id,
                    a.c.need_id != b.c.need_id,
                    a.c.claim_id < b.c.claim_id,
                ),
            )
            .where(latest >= start, latest - earliest <= window)
            .order_by(latest.desc(), a.c.claim_id, b.c.claim_id)
            .limit(limit)
        )
    ).all()
    found = []
    for child_id, category, first, first_at, second, second_at, latest_at, apart in rows:
        pair = (first, second) if first_at <= second_at else (second, first)
        found.append(
            Overlap(
                child_id=child_id,
                category=category,
                claim_ids=pair,
                days_apart=round(float(apart) / 86400, 1),
                latest_at=latest_at,
            )
        )
    return found
