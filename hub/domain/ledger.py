"""The arithmetic of a need: what its claims pledge, what was delivered and verified, and the
status that follows.

Lock order, kept by every write in the coordination domain so that concurrent writers never
wait on each other in a circle: the need row first, then its claims, then their deliveries.
Holding the need's row lock is what makes recomputing its totals here safe; the database's own
constraints (pledges within the quantity, deliveries within the pledge, one active claim per
indivisible need) are the guarantee that holds even if some code path forgot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.db.models import Claim, Need
from hub.domain import audit, events
from hub.domain.events import NeedEventKind
from hub.vocabulary import ClaimStatus, NeedStatus

ONE = Decimal(1)
CENT = Decimal("0.01")
EXPIRY_REASON = "the deadline passed before the pledge was delivered"


def pledge_of() -> ColumnElement[Decimal]:
    """A claim's pledge; an indivisible need's claim counts as one."""
    return func.coalesce(Claim.quantity, literal(ONE))


def overdue() -> ColumnElement[bool]:
    """Active in the table but past its deadline with its pledge not all delivered: expired,
    whether or not the sweeper has written so yet. A delivered claim awaiting verification does
    not expire."""
    return and_(
        Claim.status == ClaimStatus.ACTIVE,
        Claim.expires_at <= func.now(),
        Claim.delivered_quantity < pledge_of(),
    )


def effectively_active() -> ColumnElement[bool]:
    return and_(
        Claim.status == ClaimStatus.ACTIVE,
        or_(Claim.expires_at > func.now(), Claim.delivered_quantity >= pledge_of()),
    )


def status_in(statuses: tuple[ClaimStatus, ...]) -> ColumnElement[bool]:
    """Claims whose status, as readers see it, is one of ``statuses``."""
    conditions: list[ColumnElement[bool]] = []
    for status in statuses:
        if status is ClaimStatus.ACTIVE:
            conditions.append(effectively_active())
        elif status is ClaimStatus.EXPIRED:
            conditions.append(or_(Claim.status == ClaimStatus.EXPIRED, overdue()))
        else:
            conditions.append(Claim.status == status)
    return or_(*conditions)


@dataclass(frozen=True)
class Totals:
    pledged: Decimal
    delivered: Decimal
    verified: Decimal


def whole_of(quantity: Decimal | None) -> Decimal:
    """What a need of ``quantity`` takes to be met: an indivisible need counts as one."""
    return ONE if quantity is None else quantity


def need_status(current: NeedStatus, quantity: Decimal | None, totals: Totals) -> NeedStatus:
    """The status a need's claims and deliveries give it; a cancelled need stays cancelled."""
    if current is NeedStatus.CANCELLED:
        return current
    whole = whole_of(quantity)
    if totals.verified >= whole:
        return NeedStatus.FULFILLED
    if totals.delivered == 0:
        return NeedStatus.CLAIMED if totals.pledged >= whole else NeedStatus.OPEN
    return NeedStatus.IN_PROGRESS if totals.pledged >= whole else NeedStatus.PARTIALLY_MET


def status_after_pledge(
    status: NeedStatus, quantity: Decimal | None, pledged: Decimal
) -> NeedStatus:
    """``need_status`` of the locked need once a new pledge brings its pledged total to
    ``pledged``. A pledge changes neither what was delivered nor what was verified, and the row's
    own status tells both, because every writer settles the row under its lock (``settle``):
    a need anything was delivered to is partially met or in progress, and a need that can still
    be claimed is not fulfilled. So the claim needs no read of the claims' totals."""
    if status in (NeedStatus.CANCELLED, NeedStatus.FULFILLED):
        return status
    full = pledged >= whole_of(quantity)
    if status in (NeedStatus.PARTIALLY_MET, NeedStatus.IN_PROGRESS):
        return NeedStatus.IN_PROGRESS if full else NeedStatus.PARTIALLY_MET
    return NeedStatus.CLAIMED if full else NeedStatus.OPEN


def status_change(
    principal: Principal | None, need: Any, status: NeedStatus, cause: dict[str, Any]
) -> list[audit.Entry]:
    """The audit entry for ``need`` (every column of ``needs``) moving to ``status``, if that
    is a change."""
    if status is need.status:
        return []
    return [
        audit.entry(
            principal,
            "need.status_changed",
            "need",
            need.id,
            {"from": need.status.value, "to": status.value, **cause},
            region_code=need.region_code,
        )
    ]


def _sums() -> tuple[ColumnElement[Decimal], ColumnElement[Decimal], ColumnElement[Decimal]]:
    """Pledged, delivered and verified over the claims selected with them."""
    # Active and fulfilled claims hold their whole pledge; an ended claim keeps what it delivered.
    holding = Claim.status.in_([ClaimStatus.ACTIVE, ClaimStatus.FULFILLED])
    return (
        func.coalesce(func.sum(case((holding, pledge_of()), else_=Claim.delivered_quantity)), 0),
        func.coalesce(func.sum(Claim.delivered_quantity), 0),
        func.coalesce(func.sum(Claim.verified_quantity), 0),
    )


def _totals(pledged: Any, delivered: Any, verified: Any) -> Totals:
    # As the numeric(14, 2) columns store them, so that a view reads alike before and after.
    return Totals(*(Decimal(value).quantize(CENT) for value in (pledged, delivered, verified)))


async def totals_of(session: AsyncSession, need_id: uuid.UUID) -> Totals:
    return _totals(*(await session.execute(select(*_sums()).where(Claim.need_id == need_id))).one())


async def locked_need(
    session: AsyncSession, need_id: uuid.UUID, *, skip_locked: bool = False
) -> Need | None:
    """The need's row, locked for this transaction and read afresh."""
    query = (
        select(Need)
        .where(Need.id == need_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def settle(
    session: AsyncSession,
    principal: Principal | None,
    need: Need,
    cause: dict[str, Any],
    *,
    fresh: bool = False,
) -> Need:
    """Bring the locked need's pledged total and status in line with its claims, audited.

    Call it after the claims changed and with the need's own pending changes flushed: it reads
    the row afresh, unless ``fresh`` says ``need`` is the row as this transaction last wrote it
    (returned by its own UPDATE, the row locked since). It writes with a statement rather than
    a flush, so that the audit events pending in the session are inserted once, at commit.
    """
    totals = await totals_of(session, need.id)
    if not fresh:
        need = await locked_need(session, need.id) or need
    decided = settlement(principal, need, totals, cause)
    if not decided.changed:
        return need
    previous = need.status
    updated = (
        await session.scalars(
            update(Need)
            .where(Need.id == need.id)
            .values(
                pledged_quantity=decided.pledged,
                status=decided.status,
                version=Need.version + 1,
                updated_at=func.now(),
            )
            .returning(Need),
            execution_options={"populate_existing": True},
        )
    ).one()
    for entry in decided.entries:
        audit.add(session, entry)
    if decided.status is not previous and decided.status is NeedStatus.FULFILLED:
        await events.emit(session, updated, NeedEventKind.FULFILLED)
    return updated


@dataclass(frozen=True)
class Settlement:
    """What settling a need comes to (``settlement``): its status and pledged total, whether its
    row must be written, and the audit entries."""

    status: NeedStatus
    pledged: Decimal
    changed: bool
    entries: list[audit.Entry]


def settlement(
    principal: Principal | None, need: Any, totals: Totals, cause: dict[str, Any]
) -> Settlement:
    """``settle``'s decision for the locked ``need``, whose ``totals`` were read under the
    lock."""
    status = need_status(need.status, need.quantity, totals)
    changed = status is not need.status or need.pledged_quantity != totals.pledged
    entries = status_change(principal, need, status, cause)
    return Settlement(status, totals.pledged, changed, entries)


async def expire_overdue(session: AsyncSession, need: Need) -> list[uuid.UUID]:
    """Expire the locked need's overdue claims and settle it; each expiry is audited once.

    The conditional UPDATE is what makes it exactly once: of two transactions expiring the same
    claim, the second finds it no longer active.
    """
    rows = (
        await session.execute(
            update(Claim)
            .where(Claim.need_id == need.id, overdue())
            .values(
                status=ClaimStatus.EXPIRED,
                ended_at=func.now(),
                end_reason=EXPIRY_REASON,
                version=Claim.version + 1,
            )
            .returning(Claim.id, Claim.provider_id, Claim.expires_at)
        )
    ).all()
    for claim_id, provider_id, expires_at in rows:
        audit.record(
            session,
            None,
            "claim.expired",
            "claim",
            claim_id,
            {
                "need_id": str(need.id),
                "provider_id": str(provider_id),
                "expires_at": expires_at.isoformat(),
            },
            region_code=need.region_code,
        )
        await events.emit(session, need, NeedEventKind.EXPIRED)
    if rows:
        await settle(session, None, need, {"expired_claims": [str(row[0]) for row in rows]})
    return [row[0] for row in rows]


async def revoke_active_claims(
    session: AsyncSession, principal: Principal, need: Need, reason: str
) -> list[uuid.UUID]:
    """End every claim still holding the locked need, e.g. because the need was cancelled."""
    await expire_overdue(session, need)
    rows = (
        await session.execute(
            update(Claim)
            .where(Claim.need_id == need.id, Claim.status == ClaimStatus.ACTIVE)
            .values(
                status=ClaimStatus.REVOKED,
                ended_at=func.now(),
                end_reason=reason,
                ended_by_member_id=principal.member_id,
                ended_by_provider_id=principal.provider_id,
                version=Claim.version + 1,
            )
            .returning(Claim.id, Claim.provider_id)
        )
    ).all()
    for claim_id, provider_id in rows:
        audit.record(
            session,
            principal,
            "claim.revoked",
            "claim",
            claim_id,
            {"need_id": str(need.id), "provider_id": str(provider_id), "reason": reason},
            region_code=need.region_code,
        )
        await events.emit(session, need, NeedEventKind.REVOKED)
    return [row[0] for row in rows]
