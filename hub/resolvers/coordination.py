"""Root fields and mutations for claims and deliveries."""

from __future__ import annotations

import strawberry

from hub.domain import claims, deliveries
from hub.domain.rules import CoordinationRules
from hub.resolvers.ids import uuid_of
from hub.resolvers.paging import page_of
from hub.schema.context import Info
from hub.schema.coordination import (
    AlreadyClaimed,
    Claim,
    ClaimNeedResult,
    ClaimNeedSuccess,
    ClaimPayload,
    Delivery,
    DeliveryPayload,
    OverlapWarning,
    OverPledged,
)
from hub.schema.inputs import (
    ClaimFilter,
    ClaimNeedInput,
    DisputeDeliveryInput,
    EndClaimInput,
    ExtendClaimInput,
    LogDeliveryInput,
    VerifyDeliveryInput,
)
from hub.schema.needs import Need
from hub.schema.pagination import Connection, connection_of
from hub.vocabulary import ClaimStatus


def _rules(info: Info) -> CoordinationRules:
    return CoordinationRules.from_settings(info.context.settings)


async def resolve_claims(
    info: Info,
    filter: ClaimFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Claim]:
    principal = info.context.require_principal()
    page = page_of(info, first, after, kind=claims.CURSOR_KIND, arity=2)
    where = claims.ClaimFilter()
    if filter is not None:
        where = claims.ClaimFilter(
            jurisdiction=filter.jurisdiction,
            statuses=tuple(filter.statuses or ()),
            mine=filter.mine,
            expiring_before=filter.expiring_before,
        )
    async with info.context.sessions() as session:
        found = await claims.list_claims(session, principal, where, page)
    return connection_of(found, Claim.from_view)


async def resolve_claim(info: Info, id: strawberry.ID) -> Claim | None:
    info.context.require_principal()
    view = await info.context.loaders.claim.load(uuid_of(id, "Claim"))
    return None if view is None else Claim.from_view(view)


async def resolve_delivery(info: Info, id: strawberry.ID) -> Delivery | None:
    info.context.require_principal()
    view = await info.context.loaders.delivery.load(uuid_of(id, "Delivery"))
    return None if view is None else Delivery.from_view(view)


async def claim_need(info: Info, input: ClaimNeedInput, idempotency_key: str) -> ClaimNeedResult:
    principal = info.context.require_principal()
    request = claims.ClaimRequest(
        need_id=uuid_of(input.need_id, "Need", field="needId"),
        quantity=input.quantity,
        expected_by=input.expected_by,
        note=input.note,
    )
    async with info.context.sessions.begin() as session:
        outcome = await claims.claim_need(
            session, principal, request, idempotency_key=idempotency_key, rules=_rules(info)
        )
    need = Need.from_view(outcome.need)
    if isinstance(outcome, claims.AlreadyClaimed):
        return AlreadyClaimed(
            holder_id=outcome.holder_provider_id,
            need=need,
            until=outcome.until,
            message="another provider holds this need",
        )
    if isinstance(outcome, claims.OverPledged):
        return OverPledged(
            need=need,
            requested=outcome.requested,
            remaining=outcome.remaining,
            unit=outcome.need.unit,
            message=f"only {outcome.remaining} remains to be pledged",
        )
    return ClaimNeedSuccess(
        claim=Claim.from_view(outcome.claim),
        need=need,
        overlap_warnings=[OverlapWarning.from_view(w) for w in outcome.warnings],
    )


async def extend_claim(info: Info, input: ExtendClaimInput) -> ClaimPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        view = await claims.extend_claim(
            session,
            principal,
            uuid_of(input.id, "Claim"),
            input.version,
            expected_by=input.expected_by,
            rules=_rules(info),
        )
    return ClaimPayload(claim=Claim.from_view(view))


async def _end(info: Info, input: EndClaimInput, status: ClaimStatus) -> ClaimPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        view = await claims.end_claim(
            session, principal, uuid_of(input.id, "Claim"), input.version, status, input.reason
        )
    return ClaimPayload(claim=Claim.from_view(view))


async def release_claim(info: Info, input: EndClaimInput) -> ClaimPayload:
    return await _end(info, input, ClaimStatus.RELEASED)


async def fail_claim(info: Info, input: EndClaimInput) -> ClaimPayload:
    return await _end(info, input, ClaimStatus.FAILED)


async def revoke_claim(info: Info, input: EndClaimInput) -> ClaimPayload:
    return await _end(info, input, ClaimStatus.REVOKED)


async def log_delivery(
    info: Info, input: LogDeliveryInput, idempotency_key: str
) -> DeliveryPayload:
    principal = info.context.require_principal()
    data = deliveries.NewDelivery(
        claim_id=uuid_of(input.claim_id, "Claim", field="claimId"),
        delivered_at=input.delivered_at,
        description=input.description,
        quantity=input.quantity,
        evidence=input.evidence,
    )
    async with info.context.sessions.begin() as session:
        view = await deliveries.log_delivery(
            session, principal, data, idempotency_key=idempotency_key
        )
    return DeliveryPayload(delivery=Delivery.from_view(view))


async def verify_delivery(info: Info, input: VerifyDeliveryInput) -> DeliveryPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        view = await deliveries.review_delivery(
            session, principal, uuid_of(input.id, "Delivery"), input.version, verified=True
        )
    return DeliveryPayload(delivery=Delivery.from_view(view))


async def dispute_delivery(info: Info, input: DisputeDeliveryInput) -> DeliveryPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        view = await deliveries.review_delivery(
            session,
            principal,
            uuid_of(input.id, "Delivery"),
            input.version,
            verified=False,
            reason=input.reason,
        )
    return DeliveryPayload(delivery=Delivery.from_view(view))
