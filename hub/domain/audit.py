"""Audit events, written in the same transaction as the change they describe, and read back by
those who may: each reader sees the events of its jurisdiction; events that belong to no region
(hub-wide ones) only platform-wide readers see. The database chains every event to the one
before it by hashes (migrations 0003 and 0006), after it commits (``audit_chain``); reads link
what is still unlinked first. ``check_chain`` tells whether the chain still holds."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Table,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for, may
from hub.auth.principal import Principal
from hub.db.models import AuditEvent
from hub.domain.audit_chain import link_pending
from hub.domain.errors import Forbidden
from hub.domain.jurisdiction import narrow, validate_prefix, within
from hub.domain.pagination import Page, PageRequest, make_page, typed_key

CURSOR_KIND = "audit"


def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: object,
    data: dict[str, Any] | None = None,
    *,
    region_code: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it commits (or rolls back) with the change itself."""
    return add(
        session, entry(principal, action, entity_type, entity_id, data, region_code=region_code)
    )


def add(session: AsyncSession, columns: Entry) -> AuditEvent:
    """``record``, for an event already made into its columns (``entry``)."""
    event = AuditEvent(**columns)
    session.add(event)
    return event


# An audit event's columns, for ``write``.
Entry = dict[str, Any]


def entry(
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: object,
    data: dict[str, Any] | None = None,
    *,
    region_code: str | None = None,
) -> Entry:
    """What ``record`` adds, as the columns ``write`` inserts."""
    return {
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "actor_member_id": principal.member_id if principal else None,
        "actor_provider_id": principal.provider_id if principal else None,
        "client_id": principal.client_id if principal else None,
        "region_code": region_code,
        "data": data or {},
    }


_COLUMNS = tuple(entry(None, "", "", "").keys())


@functools.cache
def inserting(count: int, only_if: ColumnElement[bool] | None = None) -> Insert:
    """An INSERT of ``count`` events in one statement, in the order given (their ids follow
    it), for a statement that writes a change to hold as a CTE: they commit or roll back with
    it, as ``record``'s do. ``only_if``: a condition on the statement's other CTEs, such as
    whether the change was written at all. Parameters: ``inserting_parameters``. (Rows
    selected from parameters rather than a multi-row VALUES, which SQLAlchemy would compile
    afresh each time.)"""
    table = cast(Table, AuditEvent.__table__)
    rows = union_all(
        *(
            select(
                literal(n).label("position"),
                *(
                    bindparam(f"audit_{n}_{column}", type_=table.c[column].type).label(column)
                    for column in _COLUMNS
                ),
            )
            for n in range(count)
        )
    ).subquery("entries")
    ordered = select(*(rows.c[column] for column in _COLUMNS)).order_by(rows.c.position)
    if only_if is not None:
        ordered = ordered.where(only_if)
    return insert(table).from_select(list(_COLUMNS), ordered)


def inserting_parameters(entries: list[Entry]) -> dict[str, Any]:
    return {
        f"audit_{n}_{column}": value
        for n, one in enumerate(entries)
        for column, value in one.items()
    }


@dataclass(frozen=True)
class AuditEventView:
    id: int
    occurred_at: datetime
    action: str
    entity_type: str
    entity_id: str
    actor_member_id: uuid.UUID | None
    actor_provider_id: uuid.UUID | None
    client_id: str | None
    region_code: str | None
    data: dict[str, Any]
    # The event's place in the hash chain, the previous event's hash and its own.
    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditFilter:
    jurisdiction: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None


async def list_events(
    session: AsyncSession, principal: Principal, where: AuditFilter, page: PageRequest
) -> Page[AuditEventView]:
    """Newest first."""
    platform = may(principal, Permission.READ_PLATFORM_AUDIT)
    allowed = jurisdictions_for(principal, Permission.READ_AUDIT)
    if not allowed and not platform:
        raise Forbidden("reading the audit log is for auditors and platform admins")
    requested = validate_prefix(where.jurisdiction) if where.jurisdiction else None
    await link_pending(session)
    regional = within(AuditEvent.region_code, narrow(allowed, requested))
    visible = (
        or_(regional, AuditEvent.region_code.is_(None)) if platform and not requested else regional
    )
    # An event committed after the linking above shows from the next read on, once linked.
    query = select(AuditEvent).where(visible, AuditEvent.chain_seq.is_not(None))
    if where.action:
        query = query.where(AuditEvent.action == where.action)
    if where.entity_type:
        query = query.where(AuditEvent.entity_type == where.entity_type)
    if where.entity_id:
        query = query.where(AuditEvent.entity_id == where.entity_id)
    if page.after is not None:
        (before,) = typed_key(page.after, _position)
        query = query.where(AuditEvent.id < before)
    rows = (await session.scalars(query.order_by(AuditEvent.id.desc()).limit(page.first + 1))).all()
    views = [
        AuditEventView(
            id=row.id,
            occurred_at=row.occurred_at,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            actor_member_id=row.actor_member_id,
            actor_provider_id=row.actor_provider_id,
            client_id=row.client_id,
            region_code=row.region_code,
            data=row.data,
            seq=row.chain_seq,
            prev_hash=row.prev_hash or "",
            hash=row.hash or "",
        )
        for row in rows
        if row.chain_seq is not None
    ]
    return make_page(views, page, CURSOR_KIND, lambda view: (view.id,))


def _position(value: object) -> int:
    """An event id read back from a cursor: a forged one is bad input, not an internal error."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an event id")
    return value


GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainCheck:
    intact: bool
    checked: int
    # The first event whose content, position or link does not match, and what is wrong.
    broken_at: int | None = None
    problem: str | None = None


async def check_chain(session: AsyncSession, principal: Principal) -> ChainCheck:
    """Walk the whole chain: every event's hash must match its content (recomputed by the same
    database function that wrote it) and the previous event's hash, with no gap in positions.
    A row changed or deleted behind the append-only trigger's back shows up here.

    The answer names positions only, never content, so any reader of the audit log may ask.
    """
    if not (
        may(principal, Permission.READ_AUDIT) or may(principal, Permission.READ_PLATFORM_AUDIT)
    ):
        raise Forbidden("checking the audit log is for auditors and platform admins")
    await link_pending(session)
    digest = func.audit_event_digest(literal_column("audit_events"))
    result = await session.stream(
        select(AuditEvent.chain_seq, AuditEvent.prev_hash, AuditEvent.hash, digest)
        .where(AuditEvent.chain_seq.is_not(None))
        .order_by(AuditEvent.chain_seq)
    )
    previous, expected_seq, checked = GENESIS, 1, 0
    async for seq, prev_hash, stored, recomputed in result:
        problem = None
        if seq != expected_seq:
            problem = f"event {expected_seq} is missing"
        elif prev_hash != previous:
            problem = "it does not link to the event before it"
        elif stored != recomputed:
            problem = "its content does not match its hash"
        if problem is not None:
            await result.close()
            return ChainCheck(intact=False, checked=checked, broken_at=seq, problem=problem)
        previous, expected_seq, checked = stored, seq + 1, checked + 1
    return ChainCheck(intact=True, checked=checked)
