"""Claims: providers taking on needs so that nobody duplicates them, and the claim lifecycle.

active -> fulfilled (its pledge delivered and verified, see ``deliveries``), released (by the
claimant), expired (deadline passed, see ``sweeper``), failed (could not be delivered) or revoked
(by an official). Who wins a race for a need is decided by PostgreSQL in one conditional UPDATE
of the need's pledged total, backed by the need's check constraint and, for an indivisible need,
a partial unique index on its active claim. Losing is an answer, not an error.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Row,
    Select,
    Table,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.auth.policy import Permission, jurisdictions_for, may
from hub.auth.principal import Principal
from hub.db import raw
from hub.db.arrays import any_of, any_of_parameter
from hub.db.models import Claim, Need, Provider
from hub.domain import audit, events, idempotency, ledger, overlaps
from hub.domain.clock import as_utc, instant, utcnow
from hub.domain.coordination_errors import (
    CategoryNotServed,
    ClaimExpired,
    ClaimNotActive,
    ExtensionLimit,
    NeedNotClaimable,
    NotClaimant,
)
from hub.domain.disclosure import Disclosure, Holdings, disclosure_for
from hub.domain.errors import Forbidden, InvalidInput, NotFound, StaleVersion
from hub.domain.jurisdiction import checked_prefix, within, within_parameter
from hub.domain.needs import NeedView
from hub.domain.needs import view_of as need_view
from hub.domain.pagination import Page, PageRequest, make_page, typed_key
from hub.domain.rules import CoordinationRules
from hub.vocabulary import ClaimStatus, NeedCategory, NeedStatus, NeedUnit

CURSOR_KIND = "claim"
NOTE_LIMIT = 1000
REASON_LIMIT = 500
MAX_QUANTITY = Decimal("100000000")


@dataclass(frozen=True)
class ClaimView:
    """A claim as one principal sees it; ``status`` already reads an overdue claim as expired."""

    id: uuid.UUID
    need_id: uuid.UUID
    child_id: uuid.UUID
    provider_id: uuid.UUID
    category: NeedCategory
    quantity: Decimal | None
    unit: NeedUnit | None
    status: ClaimStatus
    claimed_at: datetime
    expected_by: datetime
    expires_at: datetime
    extensions: int
    delivered_quantity: Decimal
    verified_quantity: Decimal
    ended_at: datetime | None
    version: int
    own: bool
    # The claim's text: for its own provider, officials of the child's region and the provider
    # holding the need (``hub.domain.disclosure``).
    note: str | None = None
    end_reason: str | None = None

    @property
    def overdue(self) -> bool:
        """Active, the promised date passed, the pledge not all delivered."""
        pledge = Decimal(1) if self.quantity is None else self.quantity
        return (
            self.status is ClaimStatus.ACTIVE
            and self.expected_by < utcnow()
            and self.delivered_quantity < pledge
        )


def _columns() -> Select[Claim, uuid.UUID, str, NeedCategory, NeedUnit | None, bool]:
    return select(
        Claim,
        Need.child_id,
        Need.region_code,
        Need.category,
        Need.unit,
        ledger.overdue().label("expired"),
    ).join(Need, Need.id == Claim.need_id)


def seen_status(status: ClaimStatus, expired: bool) -> ClaimStatus:
    """The status readers see: an overdue claim (``ledger.overdue()``) reads as expired, whether
    or not the sweeper has written so yet."""
    return ClaimStatus.EXPIRED if expired else status


_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def on_needs(query: _Query, principal: Principal, need_ids: Collection[uuid.UUID] | str) -> _Query:
    """``query`` (claims joined to their needs, as ``_columns()`` is) narrowed to the visible
    claims on ``need_ids``, oldest first: the statement of ``claims_of_needs``, which the
    compiled needs page (``hub.fast_path``) reads its claims' columns through too.

    ``need_ids`` may instead name the parameter the ids will be given in, for a statement
    built once and executed for many pages."""
    on = (
        any_of_parameter(Claim.need_id, need_ids)
        if isinstance(need_ids, str)
        else any_of(Claim.need_id, need_ids)
    )
    return query.where(on, visible(principal)).order_by(Claim.claimed_at, Claim.id)


def visible(principal: Principal) -> Any:
    """Claims on needs in the principal's own reach - its provider's too: a provider working in
    many counties has members in each, and a member sees (and acts on) only the claims, notes
    and evidence of the counties it works in itself (need-to-know)."""
    return within(Need.region_code, jurisdictions_for(principal, Permission.READ_REGISTER))


async def _views(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[Row[Claim, uuid.UUID, str, NeedCategory, NeedUnit | None, bool]],
) -> list[ClaimView]:
    # A provider's own claims show their text anyway: ask about the others' children only.
    seen = await disclosure_for(
        session,
        principal,
        ((row[1], row[2]) for row in rows if row[0].provider_id != principal.provider_id),
    )
    return [
        _view(principal, claim, child_id, region_code, category, unit, expired, seen)
        for claim, child_id, region_code, category, unit, expired in rows
    ]


def _view(
    principal: Principal,
    claim: Claim | Row[*tuple[Any, ...]],
    child_id: uuid.UUID,
    region_code: str,
    category: NeedCategory,
    unit: NeedUnit | None,
    expired: bool,
    disclosure: Disclosure | None = None,
) -> ClaimView:
    """A claim as ``principal`` sees it; ``disclosure``: what the principal's provider holds of
    the others' claims' children (``disclosure_for``), without which it reads as one holding
    nothing but its own claims."""
    own = claim.provider_id == principal.provider_id
    seen = disclosure or Disclosure(principal)
    text = seen.record_text(claim.provider_id, claim.need_id, region_code, category)
    return ClaimView(
        id=claim.id,
        need_id=claim.need_id,
        child_id=child_id,
        provider_id=claim.provider_id,
        category=category,
        quantity=claim.quantity,
        unit=unit,
        status=seen_status(claim.status, expired),
        claimed_at=claim.claimed_at,
        expected_by=claim.expected_by,
        expires_at=claim.expires_at,
        extensions=claim.extensions,
        delivered_quantity=claim.delivered_quantity,
        verified_quantity=claim.verified_quantity,
        ended_at=claim.ended_at,
        version=claim.version,
        own=own,
        note=claim.note if text else None,
        end_reason=claim.end_reason if text else None,
    )


async def claims_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ClaimView]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (
        await session.execute(_columns().where(any_of(Claim.id, wanted), visible(principal)))
    ).all()
    return {view.id: view for view in await _views(session, principal, rows)}


async def claims_of_needs(
    session: AsyncSession, principal: Principal, need_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[ClaimView]]:
    """Every claim on each need, oldest first."""
    wanted = list(set(need_ids))
    grouped: dict[uuid.UUID, list[ClaimView]] = defaultdict(list)
    if not wanted:
        return grouped
    rows = (await session.execute(on_needs(_columns(), principal, wanted))).all()
    for view in await _views(session, principal, rows):
        grouped[view.need_id].append(view)
    return grouped


@dataclass(frozen=True)
class ClaimFilter:
    jurisdiction: str | None = None
    statuses: tuple[ClaimStatus, ...] = ()
    # Only the claims of the principal's own provider.
    mine: bool = False
    expiring_before: datetime | None = None


async def list_claims(
    session: AsyncSession, principal: Principal, where: ClaimFilter, page: PageRequest
) -> Page[ClaimView]:
    """Newest first."""
    query = _columns().where(visible(principal))
    wanted = checked_prefix(principal, Permission.READ_REGISTER, where.jurisdiction or None)
    if wanted is not None:
        query = query.where(within(Need.region_code, (wanted,)))
    if where.mine:
        query = query.where(Claim.provider_id == principal.provider_id)
    if where.statuses:
        query = query.where(ledger.status_in(where.statuses))
    if where.expiring_before is not None:
        before = as_utc(where.expiring_before, "expiringBefore")
        query = query.where(ledger.effectively_active(), Claim.expires_at < before)
    if page.after is not None:
        after = typed_key(page.after, instant, uuid.UUID)
        query = query.where(tuple_(Claim.claimed_at, Claim.id) < tuple_(*after))
    rows = (
        await session.execute(
            query.order_by(Claim.claimed_at.desc(), Claim.id.desc()).limit(page.first + 1)
        )
    ).all()
    views = await _views(session, principal, rows)
    return make_page(
        views, page, CURSOR_KIND, lambda view: (view.claimed_at.isoformat(), str(view.id))
    )


# --- claiming ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimRequest:
    need_id: uuid.UUID
    # A divisible need's pledge; left out, it is everything that remains.
    quantity: Decimal | None = None
    expected_by: datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class Claimed:
    claim: ClaimView
    need: NeedView
    warnings: tuple[overlaps.OverlapWarning, ...] = ()


@dataclass(frozen=True)
class AlreadyClaimed:
    """An indivisible need someone else holds: who (if known) and until when (if active)."""

    need: NeedView
    holder_provider_id: uuid.UUID | None
    until: datetime | None


@dataclass(frozen=True)
class OverPledged:
    need: NeedView
    requested: Decimal
    remaining: Decimal


ClaimOutcome = Claimed | AlreadyClaimed | OverPledged


def check_amount(value: Decimal, field: str) -> Decimal:
    try:
        valid = value.is_finite() and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:
        valid = False
    if not valid:
        raise InvalidInput("a quantity has at most two decimal places", field=field)
    if value <= 0 or value >= MAX_QUANTITY:
        raise InvalidInput("a quantity is positive and below 100,000,000", field=field)
    return value


def check_text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(cleaned) > limit:
        raise InvalidInput(f"{field} has at most {limit} characters", field=field)
    return cleaned or None


def check_reason(reason: str) -> str:
    cleaned = check_text(reason, "reason", REASON_LIMIT, required=True)
    assert cleaned is not None
    return cleaned


# The tables, for the claim's plain statements (built once, executed on the session's
# connection: no ORM entities, no unit of work, on the hot path of every claim).
_NEEDS = cast(Table, Need.__table__)
_CLAIMS = cast(Table, Claim.__table__)

# The need, locked for the claim (its row only, not the provider's) if the claimant may claim
# it: readable and claimable where it lies, of a category the claimant's provider serves - so
# that a refused claim neither takes the lock nor waits for it. With it, in the same statement,
# whether any claim on the need is overdue: only then is an UPDATE sent to expire them. (The
# locking read sees the claims as its statement began: one that became overdue in a transaction
# it waited for is caught where it matters, when the pledge does not fit - see ``_LOST``.)
_SERVED = select(Provider.categories).where(Provider.id == bindparam("provider_id"))
_LOCK_FOR_CLAIM = (
    select(
        *_NEEDS.c,
        _SERVED.scalar_subquery().label("served"),
        exists()
        .where(Claim.need_id == bindparam("need_id"), ledger.overdue())
        .label("has_overdue"),
    )
    .where(
        _NEEDS.c.id == bindparam("need_id"),
        # The prefixes bound as parameters, so that the statement is built once for every
        # claimant.
        within_parameter(_NEEDS.c.region_code, "readable"),
        within_parameter(_NEEDS.c.region_code, "claimable"),
        func.array_position(_SERVED.scalar_subquery(), _NEEDS.c.category).is_not(None),
    )
    .with_for_update(of=_NEEDS)
)

# Why the locking read found nothing, unlocked, to refuse with the reason.
_REFUSAL = select(_NEEDS.c.region_code, _NEEDS.c.category, _SERVED.scalar_subquery()).where(
    _NEEDS.c.id == bindparam("need_id")
)


# What a won claim writes, in one statement. The race is decided in it, by PostgreSQL: the pledge
# is added to the need's row (settled: its status, version and update time) only if it fits, and
# everything else is written from that UPDATE's row, so nothing is written if it did not fit. With
# it: the claim (returned as inserted, with whether it already reads as expired, for
# ``claims_by_ids``'s view), its audit events and the event announcing the claim to subscribers.
# The need's row is written once per claim. One statement per number of audit events, built once.
_PLEDGE = (
    update(_NEEDS)
    .where(
        _NEEDS.c.id == bindparam("need_id"),
        _NEEDS.c.pledged_quantity + bindparam("pledge")
        <= func.coalesce(_NEEDS.c.quantity, literal(1)),
    )
    .values(
        pledged_quantity=_NEEDS.c.pledged_quantity + bindparam("pledge"),
        status=bindparam("pledged_status", type_=_NEEDS.c.status.type),
        version=_NEEDS.c.version + 1,
        updated_at=func.now(),
    )
    .returning(
        _NEEDS.c.pledged_quantity.label("settled_pledged"),
        _NEEDS.c.version.label("settled_version"),
        _NEEDS.c.updated_at.label("settled_updated_at"),
    )
)
_CLAIM_VALUES = (
    "id",
    "need_id",
    "provider_id",
    "claimed_by_member_id",
    "client_id",
    "quantity",
    "expected_by",
    "expires_at",
    "note",
)


@functools.cache
def _making(audited: int) -> Select[*tuple[Any, ...]]:
    pledged = _PLEDGE.cte("pledged")
    values = select(
        *(bindparam(f"claim_{name}", type_=_CLAIMS.c[name].type) for name in _CLAIM_VALUES)
    ).select_from(pledged)
    made = (
        insert(_CLAIMS)
        .from_select(list(_CLAIM_VALUES), values)
        .returning(*_CLAIMS.c, ledger.overdue().label("expired"))
        .cte("made")
    )
    announced = events.notify_column().label("announced")
    statement = select(*made.c, *pledged.c, announced).select_from(made.join(pledged, true()))
    # Not read from, so added explicitly: PostgreSQL runs a data-modifying CTE regardless.
    logged = audit.inserting(audited, only_if=select(pledged.c.settled_version).exists())
    return statement.add_cte(logged.cte("logged"))


# Why a pledge did not fit, read afresh (the locking read's view of the claims may predate a
# commit it waited for): whether a claim on the need is overdue now, and who holds it.
_HOLDER = (
    select(Claim.provider_id, Claim.expires_at, Claim.status)
    .where(
        Claim.need_id == bindparam("need_id"),
        or_(
            ledger.effectively_active(),
            Claim.status == ClaimStatus.FULFILLED,
            Claim.delivered_quantity > 0,
        ),
    )
    .order_by(Claim.claimed_at.desc())
    .limit(1)
    .subquery("holder")
)
_LOST = select(
    exists().where(Claim.need_id == bindparam("need_id"), ledger.overdue()).label("has_overdue"),
    _HOLDER.c.provider_id,
    _HOLDER.c.expires_at,
    _HOLDER.c.status,
).select_from(select(literal(1).label("one")).subquery("one").outerjoin(_HOLDER, true()))


async def _lock_for_claiming(
    session: AsyncSession, principal: Principal, need_id: uuid.UUID
) -> Row[*tuple[Any, ...]]:
    """The need, locked, if the principal may claim it; refused (before anything is written,
    without the lock) if not."""
    connection = await session.connection()
    parameters = {
        "need_id": need_id,
        "provider_id": principal.provider_id,
        "readable": list(jurisdictions_for(principal, Permission.READ_REGISTER)),
        "claimable": list(jurisdictions_for(principal, Permission.CLAIM)),
    }
    for _ in range(2):
        need: Row[*tuple[Any, ...]] | None = (
            await connection.execute(_LOCK_FOR_CLAIM, parameters)
        ).first()
        if need is not None:
            break
        await _refuse(connection, principal, need_id)
        # Nothing to refuse: the need changed between the two reads (its category, its
        # region). Look again, once.
    if need is None:
        raise NotFound("no such need", field="needId")
    # The rules again, in Python, on the locked row.
    _check_claimable(principal, need.region_code, need.category, need.served)
    return need


async def _refuse(connection: AsyncConnection, principal: Principal, need_id: uuid.UUID) -> None:
    found = (
        await connection.execute(
            _REFUSAL, {"need_id": need_id, "provider_id": principal.provider_id}
        )
    ).first()
    if found is None:
        raise NotFound("no such need", field="needId")
    region_code, category, served = found
    _check_claimable(principal, region_code, category, served)


def _check_claimable(
    principal: Principal,
    region_code: str,
    category: NeedCategory,
    served: Sequence[NeedCategory] | None,
) -> None:
    if not may(principal, Permission.READ_REGISTER, region_code):
        raise NotFound("no such need", field="needId")
    if not may(principal, Permission.CLAIM, region_code):
        raise Forbidden("claiming needs in this region is outside your jurisdiction")
    _require_served(category, served or ())


async def _expire_and_relock(
    session: AsyncSession, principal: Principal, need_id: uuid.UUID
) -> Row[*tuple[Any, ...]]:
    """A claim past its deadline holds nothing: expire it now rather than refuse the newcomer,
    and read the row as that left it."""
    entity = await ledger.locked_need(session, need_id)
    if entity is not None:
        await ledger.expire_overdue(session, entity)
    return await _lock_for_claiming(session, principal, need_id)


def _require_served(category: NeedCategory, served: Sequence[NeedCategory]) -> None:
    """Refuse, before anything is written, a need outside the claimant's categories."""
    if category not in served:
        raise CategoryNotServed(
            f"your provider does not serve {category.value} needs",
            field="needId",
            category=category.value,
            served=sorted(NeedCategory(c).value for c in served),
        )


async def claim_need(
    session: AsyncSession,
    principal: Principal,
    request: ClaimRequest,
    *,
    idempotency_key: str,
    rules: CoordinationRules,
    warnings: bool = True,
) -> ClaimOutcome:
    """``warnings``: whether the answer needs the overlap warnings (a read of their own);
    without them, ``Claimed.warnings`` is empty."""
    if not may(principal, Permission.CLAIM):
        raise Forbidden("claiming needs is for providers and officials")
    note = check_text(request.note, "note", NOTE_LIMIT)
    if request.quantity is not None:
        check_amount(request.quantity, "quantity")
    need = await _lock_for_claiming(session, principal, request.need_id)
    if need.has_overdue:
        need = await _expire_and_relock(session, principal, need.id)
    payload = {
        "need_id": request.need_id,
        "quantity": request.quantity,
        "expected_by": request.expected_by,
        "note": note,
    }
    # The claim's id is known before it is made, so that the key records it at once.
    claim_id = uuid.uuid4()
    replay = await idempotency.claim_key(
        session, principal, idempotency_key, "claimNeed", payload, result_id=claim_id
    )
    if replay is not None:
        return await _replayed(session, principal, uuid.UUID(replay.result_id), rules, warnings)
    if need.status in (NeedStatus.CANCELLED, NeedStatus.FULFILLED):
        raise NeedNotClaimable(f"a {need.status.value} need cannot be claimed")
    for attempt in range(2):
        quantity = _pledge(need, request.quantity)
        now = utcnow()
        expires_at = now + rules.claim_period(need.category)
        expected_by = _expected_by(request.expected_by, now, expires_at)
        made = await _make(
            session, principal, need, claim_id, quantity, expected_by, expires_at, note
        )
        if made is not None:
            break
        lost = (await raw.rows(await session.connection(), _LOST, {"need_id": need.id}))[0]
        if lost.has_overdue and attempt == 0:
            # Overdue since the locking read looked, or committed while it waited: expired, the
            # need may hold the pledge after all.
            need = await _expire_and_relock(session, principal, need.id)
            continue
        # Nothing was claimed, so the key stays free for a retry once the need frees up.
        await idempotency.forget_key(session, principal, idempotency_key, result_id=claim_id)
        return _lost(principal, need, quantity, lost)
    assert made is not None
    claim, status = made
    view = _view(
        principal, claim, need.child_id, need.region_code, need.category, need.unit, claim.expired
    )
    found = (
        await overlaps.warnings_for(
            session, principal, view.child_id, view.category, view.need_id, rules
        )
        if warnings
        else ()
    )
    need_now = dataclasses.replace(
        need_view(
            need, principal, Disclosure(principal, Holdings.of_claim(need.child_id, need.id))
        ),
        status=status,
        pledged_quantity=claim.settled_pledged,
        version=claim.settled_version,
        updated_at=claim.settled_updated_at,
    )
    return Claimed(claim=view, need=need_now, warnings=found)


async def _make(
    session: AsyncSession,
    principal: Principal,
    need: Row[*tuple[Any, ...]],
    claim_id: uuid.UUID,
    quantity: Decimal,
    expected_by: datetime,
    expires_at: datetime,
    note: str | None,
) -> tuple[Row[*tuple[Any, ...]], NeedStatus] | None:
    """The claim, written with the pledge on the locked ``need`` (``_making``), and the need's
    status now; None, with nothing written, if the pledge does not fit."""
    pledged = need.pledged_quantity + quantity
    if pledged > ledger.whole_of(need.quantity):
        # The locked row is as current as it gets: PostgreSQL would not write it either.
        return None
    status = ledger.status_after_pledge(need.status, need.quantity, pledged)
    entries = [
        audit.entry(
            principal,
            "claim.made",
            "claim",
            claim_id,
            {
                "need_id": str(need.id),
                "quantity": None if need.quantity is None else str(quantity),
                "expires_at": expires_at.isoformat(),
                "expected_by": expected_by.isoformat(),
            },
            region_code=need.region_code,
        ),
        *ledger.status_change(principal, need, status, {"claim_id": str(claim_id)}),
    ]
    if session.new:
        await session.flush()  # events recorded before (expiries): their ids come first
    made = await raw.rows(
        await session.connection(),
        _making(len(entries)),
        {
            "need_id": need.id,
            "pledge": quantity,
            "pledged_status": status,
            "claim_id": claim_id,
            "claim_need_id": need.id,
            "claim_provider_id": principal.provider_id,
            "claim_claimed_by_member_id": principal.member_id,
            "claim_client_id": principal.client_id,
            "claim_quantity": None if need.quantity is None else quantity,
            "claim_expected_by": expected_by,
            "claim_expires_at": expires_at,
            "claim_note": note,
            **events.notify_params(events.event_for(need, events.NeedEventKind.CLAIMED)),
            **audit.inserting_parameters(entries),
        },
    )
    return (made[0], status) if made else None


def _pledge(need: Need | Row[*tuple[Any, ...]], requested: Decimal | None) -> Decimal:
    if need.quantity is None:
        if requested is not None:
            raise InvalidInput(
                "an indivisible need is claimed whole: leave the quantity out", field="quantity"
            )
        return Decimal(1)
    if requested is not None:
        return requested
    # Everything that remains; if nothing does, the pledge of the whole loses the race below.
    remaining = need.quantity - need.pledged_quantity
    return remaining if remaining > 0 else need.quantity


def _expected_by(requested: datetime | None, now: datetime, deadline: datetime) -> datetime:
    if requested is None:
        return deadline
    requested = as_utc(requested, "expectedBy")
    if requested <= now:
        raise InvalidInput("expectedBy is in the past", field="expectedBy")
    if requested > deadline:
        raise InvalidInput(
            f"a claim of this category runs until {deadline.date().isoformat()}; expect to "
            "deliver by then and extend the claim if you need longer",
            field="expectedBy",
            deadline=deadline.isoformat(),
        )
    return requested


def _lost(
    principal: Principal,
    need: Row[*tuple[Any, ...]],
    requested: Decimal,
    lost: Row[*tuple[Any, ...]],
) -> AlreadyClaimed | OverPledged:
    """The answer to a pledge that did not fit the locked ``need`` (unchanged by it)."""
    view = need_view(need, principal)
    if need.quantity is not None:
        return OverPledged(need=view, requested=requested, remaining=view.remaining_quantity)
    if lost.provider_id is None:
        return AlreadyClaimed(need=view, holder_provider_id=None, until=None)
    active = lost.status is ClaimStatus.ACTIVE
    return AlreadyClaimed(
        need=view, holder_provider_id=lost.provider_id, until=lost.expires_at if active else None
    )


async def _claimed(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    need: Need,
    rules: CoordinationRules,
    warnings: bool = True,
) -> Claimed:
    view = (await claims_by_ids(session, principal, [claim_id]))[claim_id]
    found = (
        await overlaps.warnings_for(
            session, principal, view.child_id, view.category, view.need_id, rules
        )
        if warnings
        else ()
    )
    # The need as its claimant reads it while the claim holds it.
    held = (
        Holdings.of_claim(need.child_id, need.id)
        if view.status is ClaimStatus.ACTIVE
        else Holdings(children=frozenset({need.child_id}))
    )
    return Claimed(
        claim=view, need=need_view(need, principal, Disclosure(principal, held)), warnings=found
    )


async def _replayed(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    rules: CoordinationRules,
    warnings: bool = True,
) -> Claimed:
    claim = await session.get(Claim, claim_id)
    need = await session.get(Need, claim.need_id) if claim is not None else None
    if claim is None or need is None:
        raise NotFound("the claim made by the first request no longer exists")
    return await _claimed(session, principal, claim_id, need, rules, warnings)


# --- the lifecycle ----------------------------------------------------------------------------


async def _locked_claim(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID
) -> tuple[Need, Claim]:
    """The claim and its need, both locked (need first), if the principal may see the claim."""
    need_id = await session.scalar(
        select(Claim.need_id)
        .join(Need, Need.id == Claim.need_id)
        .where(Claim.id == claim_id, visible(principal))
    )
    if need_id is None:
        raise NotFound("no such claim")
    need = await ledger.locked_need(session, need_id)
    claim = (
        await session.execute(
            select(Claim)
            .where(Claim.id == claim_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if need is None or claim is None:
        raise NotFound("no such claim")
    return need, claim


async def _is_overdue(session: AsyncSession, claim_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(ledger.overdue()).where(Claim.id == claim_id)))


async def _require_active(session: AsyncSession, claim: Claim) -> None:
    if claim.status is ClaimStatus.EXPIRED or await _is_overdue(session, claim.id):
        raise ClaimExpired("the claim's deadline has passed; claim the need again if it is open")
    if claim.status is not ClaimStatus.ACTIVE:
        raise ClaimNotActive(f"the claim is {claim.status.value}")


def _check_version(claim: Claim, version: int) -> None:
    if claim.version != version:
        raise StaleVersion("the claim was changed since you read it", current_version=claim.version)


def _require_claimant(principal: Principal, claim: Claim, need: Need) -> None:
    if claim.provider_id != principal.provider_id:
        raise NotClaimant("only the provider holding the claim may do this")
    if not may(principal, Permission.CLAIM, need.region_code):
        raise Forbidden("acting on claims in this region is outside your jurisdiction")


async def extend_claim(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    version: int,
    *,
    expected_by: datetime | None,
    rules: CoordinationRules,
) -> ClaimView:
    """Push the deadline back by the category's period, a bounded number of times."""
    need, claim = await _locked_claim(session, principal, claim_id)
    _require_claimant(principal, claim, need)
    _check_version(claim, version)
    await _require_active(session, claim)
    if claim.extensions >= rules.max_extensions:
        raise ExtensionLimit(
            f"a claim can be extended {rules.max_extensions} times; release it if you cannot "
            "deliver",
            maximum=rules.max_extensions,
        )
    expires_at = claim.expires_at + rules.claim_period(need.category)
    new_expected = _expected_by(expected_by, utcnow(), expires_at)
    await session.execute(
        update(Claim)
        .where(Claim.id == claim.id)
        .values(
            expires_at=expires_at,
            expected_by=new_expected,
            extensions=Claim.extensions + 1,
            version=Claim.version + 1,
        )
    )
    audit.record(
        session,
        principal,
        "claim.extended",
        "claim",
        claim.id,
        {
            "need_id": str(need.id),
            "from": claim.expires_at.isoformat(),
            "to": expires_at.isoformat(),
            "extensions": claim.extensions + 1,
        },
        region_code=need.region_code,
    )
    return (await claims_by_ids(session, principal, [claim.id]))[claim.id]


async def end_claim(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    version: int,
    status: ClaimStatus,
    reason: str,
) -> ClaimView:
    """Release (by the claimant), fail (by the claimant or an official) or revoke (by an
    official) an active claim, with a reason. What was delivered under it stays counted."""
    if status not in (ClaimStatus.RELEASED, ClaimStatus.FAILED, ClaimStatus.REVOKED):
        raise ValueError(f"a claim is not ended as {status.value} by request")
    cleaned = check_reason(reason)
    need, claim = await _locked_claim(session, principal, claim_id)
    own = claim.provider_id == principal.provider_id
    official = may(principal, Permission.VERIFY, need.region_code)
    if status is ClaimStatus.RELEASED or (status is ClaimStatus.FAILED and not official):
        _require_claimant(principal, claim, need)
    elif status is ClaimStatus.REVOKED and not official:
        raise Forbidden("revoking a claim is for officials of the child's region")
    _check_version(claim, version)
    await _require_active(session, claim)
    await session.execute(
        update(Claim)
        .where(Claim.id == claim.id)
        .values(
            status=status,
            ended_at=func.now(),
            end_reason=cleaned,
            ended_by_member_id=principal.member_id,
            ended_by_provider_id=principal.provider_id,
            version=Claim.version + 1,
        )
    )
    verb = {ClaimStatus.RELEASED: "released", ClaimStatus.FAILED: "failed"}.get(status, "revoked")
    await events.emit(session, need, events.NeedEventKind(verb))
    audit.record(
        session,
        principal,
        f"claim.{verb}",
        "claim",
        claim.id,
        {
            "need_id": str(need.id),
            "provider_id": str(claim.provider_id),
            "reason": cleaned,
            "by_claimant": own,
        },
        region_code=need.region_code,
    )
    await ledger.settle(session, principal, need, {"claim_id": str(claim.id)})
    return (await claims_by_ids(session, principal, [claim.id]))[claim.id]
