"""Deliveries: the claimant logs what it gave; someone else, an official or child director of
the child's region, verifies or disputes it. A need is fulfilled only by verified deliveries.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.arrays import any_of
from hub.db.models import Claim, Delivery, Need
from hub.domain import audit, idempotency, ledger
from hub.domain.claims import check_amount, check_reason, check_text, visible
from hub.domain.clock import as_utc, utcnow
from hub.domain.coordination_errors import (
    AlreadyReviewed,
    ClaimExpired,
    ClaimNotActive,
    NotClaimant,
    OverDelivery,
    SelfVerification,
)
from hub.domain.disclosure import disclosure_for
from hub.domain.errors import Forbidden, InvalidInput, NotFound, StaleVersion
from hub.domain.rules import DISPUTE_GRACE
from hub.vocabulary import ClaimStatus, DeliveryStatus, NeedCategory, NeedUnit

DESCRIPTION_LIMIT = 2000
EVIDENCE_LIMIT = 2000
# Clocks of phones in villages drift; a delivery a few minutes "in the future" is not a lie.
CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class DeliveryView:
    id: uuid.UUID
    claim_id: uuid.UUID
    need_id: uuid.UUID
    provider_id: uuid.UUID
    quantity: Decimal | None
    unit: NeedUnit | None
    delivered_at: datetime
    status: DeliveryStatus
    logged_at: datetime
    reviewed_at: datetime | None
    reviewed_by_provider_id: uuid.UUID | None
    version: int
    # The delivery's text: for its own provider, officials of the child's region and the
    # provider holding the need (``hub.domain.disclosure``).
    description: str | None = None
    evidence: str | None = None
    dispute_reason: str | None = None


def _columns() -> Select[Delivery, uuid.UUID, uuid.UUID, str, NeedCategory, NeedUnit | None]:
    return (
        select(Delivery, Claim.need_id, Need.child_id, Need.region_code, Need.category, Need.unit)
        .join(Claim, Claim.id == Delivery.claim_id)
        .join(Need, Need.id == Claim.need_id)
    )


async def _views(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[Row[Delivery, uuid.UUID, uuid.UUID, str, NeedCategory, NeedUnit | None]],
) -> list[DeliveryView]:
    # A provider's own deliveries show their text anyway: ask about the others' children only.
    seen = await disclosure_for(
        session,
        principal,
        ((row[2], row[3]) for row in rows if row[0].provider_id != principal.provider_id),
    )
    views = []
    for delivery, need_id, _child_id, region_code, category, unit in rows:
        text = seen.record_text(delivery.provider_id, need_id, region_code, category)
        views.append(
            DeliveryView(
                id=delivery.id,
                claim_id=delivery.claim_id,
                need_id=need_id,
                provider_id=delivery.provider_id,
                quantity=delivery.quantity,
                unit=unit,
                delivered_at=delivery.delivered_at,
                status=delivery.status,
                logged_at=delivery.logged_at,
                reviewed_at=delivery.reviewed_at,
                reviewed_by_provider_id=delivery.reviewed_by_provider_id,
                version=delivery.version,
                description=delivery.description if text else None,
                evidence=delivery.evidence if text else None,
                dispute_reason=delivery.dispute_reason if text else None,
            )
        )
    return views


async def deliveries_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DeliveryView]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (
        await session.execute(_columns().where(any_of(Delivery.id, wanted), visible(principal)))
    ).all()
    return {view.id: view for view in await _views(session, principal, rows)}


async def deliveries_of_claims(
    session: AsyncSession, principal: Principal, claim_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryView]]:
    """Each claim's deliveries, in the order they happened."""
    wanted = list(set(claim_ids))
    grouped: dict[uuid.UUID, list[DeliveryView]] = defaultdict(list)
    if not wanted:
        return grouped
    rows = (
        await session.execute(
            _columns()
            .where(any_of(Delivery.claim_id, wanted), visible(principal))
            .order_by(Delivery.delivered_at, Delivery.id)
        )
    ).all()
    for view in await _views(session, principal, rows):
        grouped[view.claim_id].append(view)
    return grouped


# --- logging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDelivery:
    claim_id: uuid.UUID
    delivered_at: datetime
    description: str
    # Under a divisible claim, how much; left out under an indivisible one.
    quantity: Decimal | None = None
    evidence: str | None = None


async def _locked(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID
) -> tuple[Need, Claim]:
    """The claim and its need, locked need first."""
    need_id = await session.scalar(
        select(Claim.need_id)
        .join(Need, Need.id == Claim.need_id)
        .where(
            Claim.id == claim_id,
            visible(principal),
        )
    )
    need = None if need_id is None else await ledger.locked_need(session, need_id)
    claim = (
        None
        if need is None
        else (
            await session.execute(
                select(Claim)
                .where(Claim.id == claim_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
    )
    if need is None or claim is None:
        raise NotFound("no such claim", field="claimId")
    return need, claim


async def log_delivery(
    session: AsyncSession,
    principal: Principal,
    data: NewDelivery,
    *,
    idempotency_key: str,
) -> DeliveryView:
    if not may(principal, Permission.CLAIM):
        raise Forbidden("logging deliveries is for providers holding a claim")
    description = check_text(data.description, "description", DESCRIPTION_LIMIT, required=True)
    evidence = check_text(data.evidence, "evidence", EVIDENCE_LIMIT)
    delivered_at = as_utc(data.delivered_at, "deliveredAt")
    if delivered_at > utcnow() + CLOCK_SKEW:
        raise InvalidInput("a delivery cannot be in the future", field="deliveredAt")
    need, claim = await _locked(session, principal, data.claim_id)
    payload = {
        "claim_id": data.claim_id,
        "quantity": data.quantity,
        "delivered_at": data.delivered_at,
        "description": description,
        "evidence": evidence,
    }
    replay = await idempotency.claim_key(
        session, principal, idempotency_key, "logDelivery", payload
    )
    if replay is not None:
        first = uuid.UUID(replay.result_id)
        found = await deliveries_by_ids(session, principal, [first])
        if first not in found:
            raise NotFound("the delivery logged by the first request no longer exists")
        return found[first]
    if claim.provider_id != principal.provider_id:
        raise NotClaimant("only the provider holding the claim may log deliveries under it")
    if not may(principal, Permission.CLAIM, need.region_code):
        raise Forbidden("logging deliveries in this region is outside your jurisdiction")
    overdue = await session.scalar(select(ledger.overdue()).where(Claim.id == claim.id))
    if claim.status is ClaimStatus.EXPIRED or overdue:
        raise ClaimExpired("the claim expired before this delivery was logged")
    if claim.status is not ClaimStatus.ACTIVE:
        raise ClaimNotActive(f"the claim is {claim.status.value}")
    if delivered_at < need.created_at - CLOCK_SKEW:
        raise InvalidInput("the delivery predates the need", field="deliveredAt")
    amount = _amount(claim, data.quantity)

    # Conditional on the pledge: PostgreSQL refuses an over-delivery even from a racing request.
    fits = await session.scalar(
        update(Claim)
        .where(
            Claim.id == claim.id,
            Claim.status == ClaimStatus.ACTIVE,
            Claim.delivered_quantity + amount <= ledger.pledge_of(),
        )
        .values(delivered_quantity=Claim.delivered_quantity + amount, version=Claim.version + 1)
        .returning(Claim.id)
    )
    if fits is None:
        pledge = Decimal(1) if claim.quantity is None else claim.quantity
        raise OverDelivery(
            "deliveries under a claim cannot exceed its pledge",
            field="quantity",
            remaining=str(pledge - claim.delivered_quantity),
        )
    delivery_id = await session.scalar(
        insert(Delivery)
        .values(
            claim_id=claim.id,
            provider_id=claim.provider_id,
            logged_by_member_id=principal.member_id,
            client_id=principal.client_id,
            quantity=data.quantity,
            delivered_at=delivered_at,
            description=description,
            evidence=evidence,
        )
        .returning(Delivery.id)
    )
    assert delivery_id is not None
    audit.record(
        session,
        principal,
        "delivery.logged",
        "delivery",
        delivery_id,
        {
            "claim_id": str(claim.id),
            "need_id": str(need.id),
            "quantity": None if data.quantity is None else str(data.quantity),
            "delivered_at": delivered_at.isoformat(),
        },
        region_code=need.region_code,
    )
    await ledger.settle(session, principal, need, {"delivery_id": str(delivery_id)})
    await idempotency.remember_result(session, principal, idempotency_key, delivery_id)
    return (await deliveries_by_ids(session, principal, [delivery_id]))[delivery_id]


def _amount(claim: Claim, quantity: Decimal | None) -> Decimal:
    if claim.quantity is None:
        if quantity is not None:
            raise InvalidInput(
                "an indivisible need is delivered whole: leave the quantity out", field="quantity"
            )
        return Decimal(1)
    if quantity is None:
        raise InvalidInput("say how much was delivered", field="quantity")
    return check_amount(quantity, "quantity")


# --- verification -----------------------------------------------------------------------------


async def review_delivery(
    session: AsyncSession,
    principal: Principal,
    delivery_id: uuid.UUID,
    version: int,
    *,
    verified: bool,
    reason: str | None = None,
) -> DeliveryView:
    """Verify or (with a reason) dispute a logged delivery.

    Separation of duties: never by the provider that delivered, nor by the member who logged it.
    A verified delivery counts towards its claim's fulfilment; a disputed one no longer counts
    as delivered, and an active claim gets at least ``DISPUTE_GRACE`` to put it right.
    """
    if not may(principal, Permission.VERIFY):
        raise Forbidden("verifying deliveries is for officials and child directors")
    cleaned = None if verified else check_reason(reason or "")
    found = (
        await session.execute(
            select(Delivery.claim_id)
            .join(Claim, Claim.id == Delivery.claim_id)
            .join(Need, Need.id == Claim.need_id)
            .where(Delivery.id == delivery_id, visible(principal))
        )
    ).first()
    if found is None:
        raise NotFound("no such delivery")
    need, claim = await _locked(session, principal, found[0])
    delivery = (
        await session.execute(
            select(Delivery)
            .where(Delivery.id == delivery_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if not may(principal, Permission.VERIFY, need.region_code):
        raise Forbidden("verifying deliveries is for officials of the child's region")
    if delivery.provider_id == principal.provider_id or (
        principal.member_id is not None and delivery.logged_by_member_id == principal.member_id
    ):
        raise SelfVerification("a delivery is verified by someone other than who delivered it")
    if delivery.version != version:
        raise StaleVersion(
            "the delivery was changed since you read it", current_version=delivery.version
        )
    if delivery.status is not DeliveryStatus.LOGGED:
        raise AlreadyReviewed(f"the delivery was already {delivery.status.value}")

    amount = Decimal(1) if delivery.quantity is None else delivery.quantity
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id)
        .values(
            status=DeliveryStatus.VERIFIED if verified else DeliveryStatus.DISPUTED,
            reviewed_at=func.now(),
            reviewed_by_member_id=principal.member_id,
            reviewed_by_provider_id=principal.provider_id,
            dispute_reason=cleaned,
            version=Delivery.version + 1,
        )
    )
    audit.record(
        session,
        principal,
        "delivery.verified" if verified else "delivery.disputed",
        "delivery",
        delivery.id,
        {"claim_id": str(claim.id), "need_id": str(need.id), "reason": cleaned},
        region_code=need.region_code,
    )
    if verified:
        await _count_verified(session, principal, need, claim, amount)
    else:
        await _count_disputed(session, claim, amount)
    await ledger.settle(session, principal, need, {"delivery_id": str(delivery.id)})
    return (await deliveries_by_ids(session, principal, [delivery.id]))[delivery.id]


async def _count_verified(
    session: AsyncSession, principal: Principal, need: Need, claim: Claim, amount: Decimal
) -> None:
    pledge = Decimal(1) if claim.quantity is None else claim.quantity
    fulfilled = claim.status is ClaimStatus.ACTIVE and claim.verified_quantity + amount >= pledge
    values: dict[str, Any] = {
        "verified_quantity": Claim.verified_quantity + amount,
        "version": Claim.version + 1,
    }
    if fulfilled:
        values |= {"status": ClaimStatus.FULFILLED, "ended_at": func.now()}
    await session.execute(update(Claim).where(Claim.id == claim.id).values(**values))
    if fulfilled:
        audit.record(
            session,
            principal,
            "claim.fulfilled",
            "claim",
            claim.id,
            {"need_id": str(need.id), "provider_id": str(claim.provider_id)},
            region_code=need.region_code,
        )


async def _count_disputed(session: AsyncSession, claim: Claim, amount: Decimal) -> None:
    values: dict[str, Any] = {
        "delivered_quantity": Claim.delivered_quantity - amount,
        "version": Claim.version + 1,
    }
    if claim.status is ClaimStatus.ACTIVE:
        values["expires_at"] = func.greatest(Claim.expires_at, func.now() + DISPUTE_GRACE)
    await session.execute(update(Claim).where(Claim.id == claim.id).values(**values))
