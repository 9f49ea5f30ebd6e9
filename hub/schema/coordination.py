"""Claim and Delivery, the answers to claimNeed, and a need's coverage."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry import relay

from hub.domain.claims import ClaimView
from hub.domain.coverage import NeedCoverage as NeedCoverageView
from hub.domain.deliveries import DeliveryView
from hub.domain.errors import NotFound
from hub.domain.overlaps import AidKind
from hub.domain.overlaps import OverlapWarning as OverlapWarningView
from hub.schema.context import Info
from hub.schema.federation import CASE_DETAIL
from hub.schema.needs import Need, record_text
from hub.schema.providers import Provider
from hub.vocabulary import ClaimStatus, DeliveryStatus, NeedCategory, NeedUnit

_CLAIM_TEXT = record_text("claim's", "the claim's own provider")
_DELIVERY_TEXT = record_text("delivery's", "the provider that delivered")


async def load_provider(info: Info, provider_id: uuid.UUID | None) -> Provider | None:
    if provider_id is None:
        return None
    view = await info.context.loaders.provider.load(provider_id)
    return None if view is None else Provider.from_view(view)


async def load_need(info: Info, need_id: uuid.UUID) -> Need:
    view = await info.context.loaders.need.load(need_id)
    if view is None:
        raise NotFound("no such need")
    return Need.from_view(view)


@strawberry.type(
    description="A provider's commitment to meet a need, or for a divisible need a pledged "
    "share of it. Its note and end reason are null unless the claim is your provider's, you are "
    "an official of the child's region, or your provider holds an active claim on the same need "
    "(and, for a sensitive category, may read it)."
)
class Claim(relay.Node):
    view: strawberry.Private[ClaimView]
    status: ClaimStatus = strawberry.field(
        description="As of now: a claim past its deadline reads EXPIRED even before the sweeper "
        "has recorded it."
    )
    quantity: Decimal | None = strawberry.field(
        description="The pledge, for a divisible need; null for an indivisible one."
    )
    unit: NeedUnit | None
    category: NeedCategory
    claimed_at: datetime
    expected_by: datetime = strawberry.field(
        description="When the claimant expects to deliver; past it the claim is overdue."
    )
    expires_at: datetime = strawberry.field(
        description="The deadline: an active claim not delivered by then expires."
    )
    extensions_used: int
    delivered_quantity: Decimal = strawberry.field(
        description="Logged and not disputed (an indivisible need counts as 1)."
    )
    verified_quantity: Decimal
    overdue: bool = strawberry.field(
        description="Active, its expected date passed, its pledge not all delivered."
    )
    ended_at: datetime | None
    version: int = strawberry.field(
        description="Send it back with a change; a stale one is refused."
    )
    note: str | None = strawberry.federation.field(description=_CLAIM_TEXT, tags=[CASE_DETAIL])
    end_reason: str | None = strawberry.federation.field(
        description="Why it ended: for those who read the note.", tags=[CASE_DETAIL]
    )

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.view.id)

    @classmethod
    def from_view(cls, view: ClaimView) -> Claim:
        return cls(
            view=view,
            status=view.status,
            quantity=view.quantity,
            unit=view.unit,
            category=view.category,
            claimed_at=view.claimed_at,
            expected_by=view.expected_by,
            expires_at=view.expires_at,
            extensions_used=view.extensions,
            delivered_quantity=view.delivered_quantity,
            verified_quantity=view.verified_quantity,
            overdue=view.overdue,
            ended_at=view.ended_at,
            version=view.version,
            note=view.note,
            end_reason=view.end_reason,
        )

    @strawberry.field
    async def need(self, info: Info) -> Need:
        return await load_need(info, self.view.need_id)

    @strawberry.field(description="Who holds the claim; null if you may not read the directory.")
    async def provider(self, info: Info) -> Provider | None:
        return await load_provider(info, self.view.provider_id)

    @strawberry.field(description="What was delivered under the claim, oldest first.")
    async def deliveries(self, info: Info) -> list[Delivery]:
        views = await info.context.loaders.deliveries_of_claim.load(self.view.id)
        return [Delivery.from_view(view) for view in views]


@strawberry.type(description="What a provider reports having given under a claim.")
class Delivery(relay.Node):
    view: strawberry.Private[DeliveryView]
    quantity: Decimal | None = strawberry.field(
        description="Under a divisible claim, how much; null under an indivisible one."
    )
    unit: NeedUnit | None
    delivered_at: datetime
    status: DeliveryStatus
    logged_at: datetime
    reviewed_at: datetime | None
    version: int
    description: str | None = strawberry.federation.field(
        description=_DELIVERY_TEXT, tags=[CASE_DETAIL]
    )
    evidence: str | None = strawberry.federation.field(
        description="For those who read the description.", tags=[CASE_DETAIL]
    )
    dispute_reason: str | None = strawberry.federation.field(
        description="Why it was disputed: for those who read the description.",
        tags=[CASE_DETAIL],
    )

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.view.id)

    @classmethod
    def from_view(cls, view: DeliveryView) -> Delivery:
        return cls(
            view=view,
            quantity=view.quantity,
            unit=view.unit,
            delivered_at=view.delivered_at,
            status=view.status,
            logged_at=view.logged_at,
            reviewed_at=view.reviewed_at,
            version=view.version,
            description=view.description,
            evidence=view.evidence,
            dispute_reason=view.dispute_reason,
        )

    @strawberry.field
    async def claim(self, info: Info) -> Claim:
        view = await info.context.loaders.claim.load(self.view.claim_id)
        if view is None:
            raise NotFound("no such claim")
        return Claim.from_view(view)

    @strawberry.field(description="The provider that delivered.")
    async def provider(self, info: Info) -> Provider | None:
        return await load_provider(info, self.view.provider_id)

    @strawberry.field(description="The provider of whoever verified or disputed it.")
    async def reviewed_by(self, info: Info) -> Provider | None:
        return await load_provider(info, self.view.reviewed_by_provider_id)


@strawberry.type(
    description="Aid of the same category already reaching the child from another provider."
)
class OverlapWarning:
    view: strawberry.Private[OverlapWarningView]
    kind: AidKind
    category: NeedCategory
    at: datetime = strawberry.field(
        description="When the other claim was made, or its last delivery."
    )
    window_days: int = strawberry.field(
        description="Aid of this category within this many days counts as overlapping."
    )

    @classmethod
    def from_view(cls, view: OverlapWarningView) -> OverlapWarning:
        return cls(
            view=view,
            kind=view.kind,
            category=view.category,
            at=view.at,
            window_days=view.window_days,
        )

    @strawberry.field
    async def provider(self, info: Info) -> Provider | None:
        return await load_provider(info, self.view.provider_id)

    @strawberry.field(description="The other provider's claim, if you may see it.")
    async def claim(self, info: Info) -> Claim | None:
        view = await info.context.loaders.claim.load(self.view.claim_id)
        return None if view is None else Claim.from_view(view)


@strawberry.type(description="You hold the claim now.")
class ClaimNeedSuccess:
    claim: Claim
    need: Need
    overlap_warnings: list[OverlapWarning] = strawberry.field(
        description="Check with the other providers before delivering: the child may already "
        "have this kind of help."
    )


@strawberry.type(description="Someone else holds this indivisible need; nothing was claimed.")
class AlreadyClaimed:
    holder_id: strawberry.Private[uuid.UUID | None]
    need: Need
    until: datetime | None = strawberry.field(
        description="When the holder's claim expires unless delivered or extended; null if "
        "it was already delivered."
    )
    message: str

    @strawberry.field(description="Who holds it, if you may read the directory.")
    async def holder(self, info: Info) -> Provider | None:
        return await load_provider(info, self.holder_id)


@strawberry.type(description="The pledge does not fit in what remains; nothing was pledged.")
class OverPledged:
    need: Need
    requested: Decimal
    remaining: Decimal = strawberry.field(description="What can still be pledged now.")
    unit: NeedUnit | None
    message: str


ClaimNeedResult = Annotated[
    ClaimNeedSuccess | AlreadyClaimed | OverPledged, strawberry.union("ClaimNeedResult")
]


@strawberry.type
class ClaimPayload:
    claim: Claim


@strawberry.type
class DeliveryPayload:
    delivery: Delivery

    @strawberry.field(description="The claim as it stands after this change.")
    async def claim(self, info: Info) -> Claim:
        view = await info.context.loaders.claim.load(self.delivery.view.claim_id)
        if view is None:
            raise NotFound("no such claim")
        return Claim.from_view(view)


@strawberry.type(
    description="One need of a child with its claims and what is still missing. Quantities "
    "count an indivisible need as 1."
)
class NeedCoverage:
    view: strawberry.Private[NeedCoverageView]
    need: Need
    claims: list[Claim] = strawberry.field(description="Every claim ever made, oldest first.")
    pledged: Decimal
    delivered: Decimal
    verified: Decimal
    remaining: Decimal = strawberry.field(description="What nobody has pledged yet.")
    unmet: Decimal = strawberry.field(description="What is not yet delivered and verified.")

    @classmethod
    def from_view(cls, view: NeedCoverageView) -> NeedCoverage:
        return cls(
            view=view,
            need=Need.from_view(view.need),
            claims=[Claim.from_view(claim) for claim in view.claims],
            pledged=view.pledged,
            delivered=view.delivered,
            verified=view.verified,
            remaining=view.remaining,
            unmet=view.unmet,
        )

    @strawberry.field(description="Deliveries under all the need's claims, claim by claim.")
    async def deliveries(self, info: Info) -> list[Delivery]:
        loaded = await info.context.loaders.deliveries_of_claim.load_many(
            [claim.id for claim in self.view.claims]
        )
        return [Delivery.from_view(view) for views in loaded for view in views]
