"""Coverage: for one child, each need with what is pledged, delivered and still unmet; for a
jurisdiction, counts that show where help is missing or about to lapse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.models import Claim, Need
from hub.domain.claims import ClaimView
from hub.domain.errors import Forbidden
from hub.domain.jurisdiction import reach, within
from hub.domain.ledger import effectively_active, pledge_of
from hub.domain.needs import NeedView
from hub.domain.rules import EXPIRY_HORIZON
from hub.vocabulary import ClaimStatus, NeedCategory, NeedStatus, Urgency

# Written as the numeric(14, 2) columns hold amounts, so that every quantity reads alike.
ZERO, ONE = Decimal("0.00"), Decimal("1.00")


@dataclass(frozen=True)
class NeedCoverage:
    need: NeedView
    claims: Sequence[ClaimView]
    pledged: Decimal
    delivered: Decimal
    verified: Decimal

    @property
    def whole(self) -> Decimal:
        return ONE if self.need.quantity is None else self.need.quantity

    @property
    def remaining(self) -> Decimal:
        """What nobody has pledged yet."""
        if self.need.status is NeedStatus.CANCELLED:
            return ZERO
        return max(self.whole - self.pledged, ZERO)

    @property
    def unmet(self) -> Decimal:
        """What has not been delivered and verified."""
        if self.need.status is NeedStatus.CANCELLED:
            return ZERO
        return max(self.whole - self.verified, ZERO)


def coverage_of(need: NeedView, claims: Sequence[ClaimView]) -> NeedCoverage:
    """The need's coverage from its claims (all of them, as ``claims_of_needs`` gives them)."""
    holding = (ClaimStatus.ACTIVE, ClaimStatus.FULFILLED)

    def pledge(claim: ClaimView) -> Decimal:
        return ONE if claim.quantity is None else claim.quantity

    return NeedCoverage(
        need=need,
        claims=claims,
        pledged=sum(
            (pledge(c) if c.status in holding else c.delivered_quantity for c in claims), ZERO
        ),
        delivered=sum((c.delivered_quantity for c in claims), ZERO),
        verified=sum((c.verified_quantity for c in claims), ZERO),
    )


@dataclass(frozen=True)
class CoverageReport:
    jurisdictions: tuple[str, ...]
    by_category_and_status: tuple[tuple[NeedCategory, NeedStatus, int], ...]
    unmet_by_urgency: tuple[tuple[Urgency, int], ...]
    claims_expiring_soon: int
    overdue_claims: int


async def coverage_report(
    session: AsyncSession, principal: Principal, jurisdiction: str | None
) -> CoverageReport:
    """Counts only, so any reader of the register in the area may see them."""
    if not may(principal, Permission.READ_REGISTER):
        raise Forbidden("coverage is for readers of the register")
    prefixes = reach(principal, Permission.READ_REGISTER, jurisdiction)
    in_reach = within(Need.region_code, prefixes)
    by_status = (
        await session.execute(
            select(Need.category, Need.status, func.count())
            .where(in_reach)
            .group_by(Need.category, Need.status)
            .order_by(Need.category, Need.status)
        )
    ).all()
    unmet = (
        await session.execute(
            select(Need.urgency, func.count())
            .where(in_reach, Need.status.not_in([NeedStatus.FULFILLED, NeedStatus.CANCELLED]))
            .group_by(Need.urgency)
            .order_by(Need.urgency)
        )
    ).all()
    undelivered = and_(effectively_active(), Claim.delivered_quantity < pledge_of())
    claims = (
        await session.execute(
            select(
                func.count().filter(Claim.expires_at < func.now() + EXPIRY_HORIZON),
                func.count().filter(Claim.expected_by < func.now()),
            )
            .select_from(Claim)
            .join(Need, Need.id == Claim.need_id)
            .where(in_reach, undelivered)
        )
    ).one()
    return CoverageReport(
        jurisdictions=prefixes,
        by_category_and_status=tuple((c, s, int(n)) for c, s, n in by_status),
        unmet_by_urgency=tuple((u, int(n)) for u, n in unmet),
        claims_expiring_soon=int(claims[0]),
        overdue_claims=int(claims[1]),
    )
