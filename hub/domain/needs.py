"""Needs in the register: reading them within one's reach, opening, updating and cancelling."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Row, Select, Text, bindparam, cast, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for, may
from hub.auth.principal import Principal
from hub.db.arrays import any_of
from hub.db.models import Child, Need
from hub.domain import audit, events, idempotency, ledger
from hub.domain.change_checkpoints import checkpoint_at_or_before
from hub.domain.clock import as_utc, instant, today, utcnow
from hub.domain.disclosure import Disclosure, disclosure_for
from hub.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from hub.domain.jurisdiction import checked_prefix, narrow, within
from hub.domain.pagination import Page, PageRequest, make_page, typed_key
from hub.domain.visibility import Tier, tier_for, visible_region
from hub.vocabulary import ChildStatus, NeedCategory, NeedStatus, NeedUnit, Urgency

DESCRIPTION_LIMIT = 2000
REASON_LIMIT = 500
MAX_QUANTITY = Decimal("100000000")


class NeedOrder(StrEnum):
    URGENCY = "urgency"  # most urgent first, then oldest: what a provider should pick up next
    CHANGED = "changed"  # least recently changed first: a feed an integration pages through


@dataclass(frozen=True)
class NeedView:
    id: uuid.UUID
    child_id: uuid.UUID
    region_code: str
    county_code: str
    category: NeedCategory
    urgency: Urgency
    status: NeedStatus
    quantity: Decimal | None
    unit: NeedUnit | None
    due_date: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    tier: Tier  # the child's, which the need's region follows
    # Held by active and fulfilled claims, plus what ended claims delivered; an indivisible
    # need counts as one.
    pledged_quantity: Decimal = Decimal(0)
    # The need's text: for officials of the region and the provider holding this very need
    # (``hub.domain.disclosure``).
    description: str | None = None
    cancel_reason: str | None = None

    @property
    def remaining_quantity(self) -> Decimal:
        """What can still be pledged."""
        whole = Decimal(1) if self.quantity is None else self.quantity
        return max(whole - self.pledged_quantity, Decimal(0))


def view_of(
    need: Need | Row[*tuple[Any, ...]],
    principal: Principal,
    disclosure: Disclosure | None = None,
) -> NeedView:
    """``disclosure``: what the principal's provider holds among the batch's children (see
    ``disclosure_for``); without it, the principal reads as one holding nothing."""
    seen = disclosure or Disclosure(principal)
    tier = tier_for(principal, need.region_code, claimant=seen.claims_child(need.child_id))
    text = seen.need_text(need.id, need.region_code, need.category)
    return NeedView(
        id=need.id,
        child_id=need.child_id,
        region_code=visible_region(need.region_code, tier),
        county_code=need.region_code[:6],
        category=need.category,
        urgency=need.urgency,
        status=need.status,
        quantity=need.quantity,
        unit=need.unit,
        due_date=need.due_date,
        version=need.version,
        created_at=need.created_at,
        updated_at=need.updated_at,
        tier=tier,
        pledged_quantity=need.pledged_quantity,
        description=need.description if text else None,
        cancel_reason=need.cancel_reason if text else None,
    )


@dataclass(frozen=True)
class NeedFilter:
    jurisdiction: str | None = None
    categories: tuple[NeedCategory, ...] = ()
    urgencies: tuple[Urgency, ...] = ()
    statuses: tuple[NeedStatus, ...] = ()
    due_before: date | None = None
    changed_since: datetime | None = None
    order: NeedOrder = NeedOrder.URGENCY


def _readable(principal: Principal) -> tuple[str, ...]:
    return jurisdictions_for(principal, Permission.READ_REGISTER)


async def needs_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, NeedView]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (
        await session.scalars(
            select(Need).where(
                any_of(Need.id, wanted), within(Need.region_code, _readable(principal))
            )
        )
    ).all()
    return {view.id: view for view in await views_of(session, principal, rows)}


async def views_of(
    session: AsyncSession, principal: Principal, rows: Sequence[Need]
) -> list[NeedView]:
    """Views of a batch of needs, with one query for what the principal's provider holds of
    their children."""
    seen = await disclosure_for(session, principal, ((n.child_id, n.region_code) for n in rows))
    return [view_of(need, principal, seen) for need in rows]


async def needs_of_children(
    session: AsyncSession,
    principal: Principal,
    child_ids: Iterable[uuid.UUID],
    statuses: tuple[NeedStatus, ...] = (),
) -> dict[uuid.UUID, list[NeedView]]:
    """Each child's needs, most urgent first, within the principal's reach."""
    wanted = list(set(child_ids))
    grouped: dict[uuid.UUID, list[NeedView]] = {child_id: [] for child_id in wanted}
    if not wanted:
        return grouped
    query = select(Need).where(
        any_of(Need.child_id, wanted), within(Need.region_code, _readable(principal))
    )
    if statuses:
        query = query.where(Need.status.in_(statuses))
    rows = (await session.scalars(query.order_by(Need.urgency, Need.created_at, Need.id))).all()
    for view in await views_of(session, principal, rows):
        grouped[view.child_id].append(view)
    return grouped


# The change feed (``NeedOrder.CHANGED``) is exact: a reader who pages to the end and later
# goes on from its last cursor gets every change committed since, none missed. It orders needs
# by the id of the transaction that last wrote them (``Need.change_xid``, set by the database),
# not by ``updated_at``: a time taken inside a transaction says nothing about when it commits,
# so a change stamped T that committed after a reader had paged past T was lost, and so was one
# stamped by a process whose clock lagged. Transaction ids are not given out in commit order
# either, so the feed ends where the reading statement's snapshot begins: below
# ``pg_snapshot_xmin`` every transaction has committed or rolled back, and what committed is
# visible, so nothing can appear later behind a cursor. A change in a transaction still running
# holds back the changes after it until it ends (those of the whole PostgreSQL server: its
# transaction ids are shared by all its databases); it delays the feed, never loses a change.
# The transactional-outbox pollers read their outbox the same way. A need changed again moves
# to its new place, further on.
_COMMITTED_BELOW = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
# Transaction ids are 64-bit and never wrap; the column is a signed BIGINT.
_MAX_XID = 2**63 - 1

# The kind names what a cursor's values mean. The change feed's cursors held ``updated_at``
# before they held a transaction id: an old cursor is refused rather than misread.
_CURSOR_KINDS = {NeedOrder.URGENCY: "need.urgency", NeedOrder.CHANGED: "need.change_xid"}


def _order_key(order: NeedOrder) -> tuple[Any, ...]:
    if order is NeedOrder.CHANGED:
        return (Need.change_xid, Need.id)
    return (Need.urgency, Need.created_at, Need.id)


def cursor_kind(order: NeedOrder) -> str:
    return _CURSOR_KINDS[order]


def cursor_arity(order: NeedOrder) -> int:
    return len(_order_key(order))


def _xid(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_XID:
        raise ValueError("not a transaction id")
    return value


def cursor_values(order: NeedOrder, after: tuple[Any, ...]) -> tuple[Any, ...]:
    """A decoded cursor's values, typed for the order's columns; InvalidInput if forged."""
    if order is NeedOrder.CHANGED:
        return typed_key(after, _xid, uuid.UUID)
    return typed_key(after, Urgency, instant, uuid.UUID)


def cursor_parameters(order: NeedOrder) -> dict[str, Any]:
    """For a statement built with ``page_query(..., cursor_as_parameters=True)``: the names
    its cursor's parameters take, to be given ``cursor_values`` in the same order."""
    return {f"after_{n}": None for n in range(cursor_arity(order))}


def _after(order: NeedOrder, after: tuple[Any, ...], as_parameters: bool) -> Any:
    columns = _order_key(order)
    if as_parameters:
        values: tuple[Any, ...] = tuple(
            bindparam(name, type_=column.type)
            for name, column in zip(cursor_parameters(order), columns, strict=True)
        )
    else:
        values = cursor_values(order, after)
    return tuple_(*columns) > tuple_(*values)


def cursor_key(order: NeedOrder, row: Any) -> tuple[Any, ...]:
    """The cursor values of a row of the page: a ``Need``, or a row of ``page_query`` columns
    holding the order's columns (``change_xid`` and ``id``, or ``urgency``, ``created_at``
    and ``id``)."""
    if order is NeedOrder.CHANGED:
        return (row.change_xid, str(row.id))
    return (row.urgency.value, row.created_at.isoformat(), str(row.id))


def _filtered(principal: Principal, where: NeedFilter, columns: tuple[Any, ...]) -> Select[Any]:
    requested = checked_prefix(principal, Permission.READ_REGISTER, where.jurisdiction)
    query = select(*columns).where(
        within(Need.region_code, narrow(_readable(principal), requested))
    )
    if where.categories:
        query = query.where(Need.category.in_(where.categories))
    if where.urgencies:
        query = query.where(Need.urgency.in_(where.urgencies))
    if where.statuses:
        query = query.where(Need.status.in_(where.statuses))
    if where.due_before is not None:
        query = query.where(Need.due_date < where.due_before)
    if where.changed_since is not None:
        # By the hub's clock, so approximate: a starting point for a new reader of the change
        # feed, whose cursors are exact from then on.
        query = query.where(Need.updated_at > as_utc(where.changed_since, "changedSince"))
    if where.order is NeedOrder.CHANGED:
        query = query.where(Need.change_xid < _COMMITTED_BELOW)
    return query


def _first_change_since(since: datetime) -> Any:
    """A transaction id no need changed since ``since`` sorts below: where the feed's first
    page may start instead of at the beginning of the register.

    Without it the feed walks its (change_xid, id) index from the start, testing updated_at on
    every need changed before ``since`` (half a second at 3 million needs, growing with the
    register). The latest change-feed checkpoint at or before ``since`` gives one in a single
    index lookup (``hub.domain.change_checkpoints``). Before the first checkpoint, the smallest
    change_xid among the needs changed since then: ``+ 0`` keeps PostgreSQL from answering
    min() by that same walk, and it reads the needs of the window through the updated_at index
    instead, a few milliseconds for a month, but 260 ms for 900,000 needs. PostgreSQL runs the
    second subquery only when the first finds no checkpoint.
    """
    moment = as_utc(since, "changedSince")
    smallest_in_window = (
        select(func.min(Need.change_xid + 0)).where(Need.updated_at > moment).scalar_subquery()
    )
    return func.coalesce(checkpoint_at_or_before(moment), smallest_in_window)


def page_query(
    principal: Principal,
    where: NeedFilter,
    page: PageRequest,
    *columns: Any,
    cursor_as_parameters: bool = False,
) -> Select[Any]:
    """The statement of a page of needs, selecting ``columns`` (the ``Need`` entity, or only
    the columns a caller serves): up to ``page.first + 1`` rows in the principal's reach, in
    the page's order. ``list_needs`` and the compiled needs page (``hub.fast_path``) both read
    through it, so both apply the same rules.

    ``cursor_as_parameters``: the cursor's values are left as parameters (``cursor_parameters``)
    so that the statement serves every page after the first, built once."""
    query = _filtered(principal, where, columns)
    if page.after is not None:
        query = query.where(_after(where.order, page.after, cursor_as_parameters))
    elif where.order is NeedOrder.CHANGED and where.changed_since is not None:
        # Later pages start from their cursor, already close to their first row.
        query = query.where(Need.change_xid >= _first_change_since(where.changed_since))
    return query.order_by(*_order_key(where.order)).limit(page.first + 1)


# Set for one transaction (``set_config``'s ``true``): see ``list_needs``.
_PLAN_FOR_THESE_VALUES = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")


async def list_needs(
    session: AsyncSession, principal: Principal, where: NeedFilter, page: PageRequest
) -> Page[NeedView]:
    """``session`` must be in a transaction: the change feed's first page sets how PostgreSQL
    plans it for that transaction only."""
    if where.order is NeedOrder.CHANGED and page.after is None and where.changed_since is not None:
        # The change feed's first page is a prepared statement like any other (asyncpg
        # prepares them all), and after five executions PostgreSQL may plan it once for any
        # values. That generic plan cannot tell a province from a village nor a day from a
        # year: at 1,000,000 children it combined two bitmap indexes over the whole register
        # and sorted 600,000 rows (1.7 s, 3 s under load) where the plan for the values at
        # hand walks the (change_xid, id) index for 101 rows (5 ms). One round trip more on
        # this page only.
        await session.execute(_PLAN_FOR_THESE_VALUES)
    rows = (await session.scalars(page_query(principal, where, page, Need))).all()
    found = make_page(
        rows, page, cursor_kind(where.order), lambda need: cursor_key(where.order, need)
    )
    views = await views_of(session, principal, found.items)
    return Page(items=views, cursors=found.cursors, has_next_page=found.has_next_page)


# --- writes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewNeed:
    child_id: uuid.UUID
    category: NeedCategory
    urgency: Urgency
    description: str
    quantity: Decimal | None = None
    unit: NeedUnit | None = None
    due_date: date | None = None


@dataclass(frozen=True)
class NeedPatch:
    id: uuid.UUID
    version: int
    changes: dict[str, Any] = field(default_factory=dict)


EDITABLE_FIELDS = ("category", "urgency", "description", "quantity", "unit", "due_date")


def _check_description(description: str) -> str:
    cleaned = description.strip()
    if not cleaned:
        raise InvalidInput("describe the need", field="description")
    if len(cleaned) > DESCRIPTION_LIMIT:
        raise InvalidInput(
            f"a description has at most {DESCRIPTION_LIMIT} characters", field="description"
        )
    return cleaned


def _check_quantity(quantity: Decimal | None, unit: NeedUnit | None) -> None:
    if (quantity is None) != (unit is None):
        raise InvalidInput(
            "a divisible need has both a quantity and a unit; an indivisible one has neither",
            field="quantity" if quantity is None else "unit",
        )
    if quantity is None:
        return
    try:
        valid = quantity.is_finite() and quantity == quantity.quantize(Decimal("0.01"))
    except InvalidOperation:
        valid = False
    if not valid:
        raise InvalidInput("a quantity has at most two decimal places", field="quantity")
    if quantity <= 0 or quantity >= MAX_QUANTITY:
        raise InvalidInput("a quantity is positive and below 100,000,000", field="quantity")


def _check_due_date(due_date: date | None) -> None:
    if due_date is not None and due_date < today():
        raise InvalidInput("the due date is in the past", field="dueDate")


async def open_need(
    session: AsyncSession,
    principal: Principal,
    data: NewNeed,
    *,
    idempotency_key: str | None = None,
) -> NeedView:
    if not may(principal, Permission.WRITE_REGISTER):
        raise Forbidden("opening needs is for officials")
    if idempotency_key is not None:
        replay = await idempotency.claim_key(
            session, principal, idempotency_key, "openNeed", dict(data.__dict__)
        )
        if replay is not None:
            need = await session.get(Need, uuid.UUID(replay.result_id))
            if need is None:
                raise NotFound("the need created by the first request no longer exists")
            return view_of(need, principal)
    child = await session.scalar(
        select(Child).where(
            Child.id == data.child_id, within(Child.region_code, _readable(principal))
        )
    )
    if child is None:
        raise NotFound("no such child", field="childId")
    if not may(principal, Permission.WRITE_REGISTER, child.region_code):
        raise Forbidden("opening needs for this child is for officials of its region")
    if child.status is not ChildStatus.ACTIVE:
        raise Conflict("the child's record was merged into another; open the need there")
    description = _check_description(data.description)
    _check_quantity(data.quantity, data.unit)
    _check_due_date(data.due_date)
    need = Need(
        id=uuid.uuid4(),
        child_id=child.id,
        region_code=child.region_code,
        category=data.category,
        urgency=data.urgency,
        description=description,
        quantity=data.quantity,
        unit=data.unit,
        due_date=data.due_date,
        opened_by_provider_id=principal.provider_id,
    )
    session.add(need)
    await session.flush()
    audit.record(
        session,
        principal,
        "need.opened",
        "need",
        need.id,
        {
            "child_id": str(child.id),
            "category": data.category.value,
            "urgency": data.urgency.value,
            "quantity": None if data.quantity is None else str(data.quantity),
            "unit": None if data.unit is None else data.unit.value,
        },
        region_code=need.region_code,
    )
    await events.emit(session, need, events.NeedEventKind.OPENED)
    if idempotency_key is not None:
        await idempotency.remember_result(session, principal, idempotency_key, need.id)
    await session.refresh(need)
    return view_of(need, principal)


async def _locked_need(session: AsyncSession, principal: Principal, need_id: uuid.UUID) -> Need:
    need = await session.scalar(
        select(Need)
        .where(Need.id == need_id, within(Need.region_code, _readable(principal)))
        .with_for_update()
    )
    if need is None:
        raise NotFound("no such need")
    if not may(principal, Permission.WRITE_REGISTER, need.region_code):
        raise Forbidden("changing this need is for officials of its region")
    return need


def _check_version(need: Need, version: int) -> None:
    if need.version != version:
        raise StaleVersion("the need was changed since you read it", current_version=need.version)


async def update_need(session: AsyncSession, principal: Principal, patch: NeedPatch) -> NeedView:
    need = await _locked_need(session, principal, patch.id)
    _check_version(need, patch.version)
    if need.status is not NeedStatus.OPEN:
        raise Conflict(f"only an open need can be changed; this one is {need.status.value}")
    if need.pledged_quantity > 0:
        # Providers pledged against what the need says now; changing it under them would turn
        # their pledges into something else. They can release first.
        raise Conflict("a need with pledges cannot be changed; its claimants can release them")
    changes = dict(patch.changes)
    if set(changes) - set(EDITABLE_FIELDS):
        raise InvalidInput(
            f"these fields cannot be changed: {sorted(set(changes) - set(EDITABLE_FIELDS))}"
        )
    if not changes:
        raise InvalidInput("nothing to change")
    for name in ("category", "urgency", "description"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be cleared", field=name)
    if "description" in changes:
        changes["description"] = _check_description(changes["description"])
    _check_quantity(changes.get("quantity", need.quantity), changes.get("unit", need.unit))
    if "due_date" in changes:
        _check_due_date(changes["due_date"])
    previous_category = need.category
    for name, value in changes.items():
        setattr(need, name, value)
    need.version += 1
    need.updated_at = utcnow()
    audit.record(
        session,
        principal,
        "need.updated",
        "need",
        need.id,
        {"version": need.version, "changes": {k: _plain(v) for k, v in changes.items()}},
        region_code=need.region_code,
    )
    await session.flush()
    await events.announce(
        session,
        [events.event_for(need, events.NeedEventKind.UPDATED, previous_category=previous_category)],
    )
    return view_of(need, principal)


async def cancel_need(
    session: AsyncSession, principal: Principal, need_id: uuid.UUID, version: int, reason: str
) -> NeedView:
    need = await _locked_need(session, principal, need_id)
    _check_version(need, version)
    cleaned = reason.strip()
    if not cleaned or len(cleaned) > REASON_LIMIT:
        raise InvalidInput(f"give a reason of 1 to {REASON_LIMIT} characters", field="reason")
    if need.status in (NeedStatus.CANCELLED, NeedStatus.FULFILLED):
        raise Conflict(f"a {need.status.value} need cannot be cancelled")
    # Claims on a cancelled need hold nothing any more: end them, each audited.
    revoked = await ledger.revoke_active_claims(
        session, principal, need, f"the need was cancelled: {cleaned}"
    )
    need = await ledger.locked_need(session, need.id) or need
    need.status = NeedStatus.CANCELLED
    need.cancel_reason = cleaned
    need.version += 1
    need.updated_at = utcnow()
    audit.record(
        session,
        principal,
        "need.cancelled",
        "need",
        need.id,
        {
            "version": need.version,
            "reason": cleaned,
            "revoked_claims": [str(claim_id) for claim_id in revoked],
        },
        region_code=need.region_code,
    )
    await session.flush()
    await events.emit(session, need, events.NeedEventKind.CANCELLED)
    need = await ledger.settle(session, principal, need, {"cancelled": True})
    return view_of(need, principal)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (int, str, bool)):
        return value
    return str(value)
