"""What officials look at across providers: coverage counts, overlapping aid, accountability."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from hub.domain.accountability import ProviderRecord
from hub.domain.coverage import CoverageReport as CoverageReportView
from hub.domain.overlaps import Overlap as OverlapView
from hub.schema.children import Child
from hub.schema.context import Info
from hub.schema.coordination import Claim, load_provider
from hub.schema.providers import Provider
from hub.vocabulary import NeedCategory, NeedStatus, Urgency


@strawberry.type
class CategoryStatusCount:
    category: NeedCategory
    status: NeedStatus
    count: int


@strawberry.type
class UrgencyCount:
    urgency: Urgency
    count: int


@strawberry.type(description="Where help is missing or about to lapse, in counts.")
class CoverageReport:
    jurisdictions: list[str] = strawberry.field(
        description="The region prefixes counted: your reach, narrowed to what you asked."
    )
    needs_by_category_and_status: list[CategoryStatusCount]
    unmet_needs_by_urgency: list[UrgencyCount] = strawberry.field(
        description="Needs neither fulfilled nor cancelled."
    )
    claims_expiring_within_week: int = strawberry.field(
        description="Active claims not yet delivered whose deadline is within seven days."
    )
    overdue_claims: int = strawberry.field(
        description="Active claims not yet delivered whose expected date has passed."
    )

    @classmethod
    def from_view(cls, view: CoverageReportView) -> CoverageReport:
        return cls(
            jurisdictions=list(view.jurisdictions),
            needs_by_category_and_status=[
                CategoryStatusCount(category=c, status=s, count=n)
                for c, s, n in view.by_category_and_status
            ],
            unmet_needs_by_urgency=[
                UrgencyCount(urgency=u, count=n) for u, n in view.unmet_by_urgency
            ],
            claims_expiring_within_week=view.claims_expiring_soon,
            overdue_claims=view.overdue_claims,
        )


@strawberry.type(
    description="Aid of one category reaching one child from two providers within the "
    "category's window: likely duplicated help."
)
class Overlap:
    view: strawberry.Private[OverlapView]
    category: NeedCategory
    days_apart: float
    latest_at: datetime

    @classmethod
    def from_view(cls, view: OverlapView) -> Overlap:
        return cls(
            view=view, category=view.category, days_apart=view.days_apart, latest_at=view.latest_at
        )

    @strawberry.field
    async def child(self, info: Info) -> Child | None:
        view = await info.context.loaders.child.load(self.view.child_id)
        return None if view is None else Child.from_view(view)

    @strawberry.field(description="The two claims, the earlier aid first.")
    async def claims(self, info: Info) -> list[Claim]:
        views = await info.context.loaders.claim.load_many(list(self.view.claim_ids))
        return [Claim.from_view(view) for view in views if view is not None]


@strawberry.type(
    description="How a provider's claims ended: 'claimed but never delivered' shows here."
)
class ProviderAccountability:
    provider_id: strawberry.Private[uuid.UUID]
    claims_made: int
    active: int
    fulfilled: int
    released: int
    expired: int
    failed: int
    revoked: int
    never_delivered: int = strawberry.field(
        description="Claims that ended other than fulfilled with nothing delivered."
    )
    median_days_to_verified_delivery: float | None = strawberry.field(
        description="From claiming to the verification that fulfilled the claim."
    )

    @classmethod
    def from_view(cls, view: ProviderRecord) -> ProviderAccountability:
        return cls(
            provider_id=view.provider_id,
            claims_made=view.claims_made,
            active=view.active,
            fulfilled=view.fulfilled,
            released=view.released,
            expired=view.expired,
            failed=view.failed,
            revoked=view.revoked,
            never_delivered=view.never_delivered,
            median_days_to_verified_delivery=view.median_days_to_verified,
        )

    @strawberry.field
    async def provider(self, info: Info) -> Provider | None:
        return await load_provider(info, self.provider_id)
