"""Merging a child registered twice into one record, and undoing it.

The needs of the merged record move to the kept one, and with them their claims and deliveries
(which hang off the needs). The merged record stays, marked as merged, so that its history and
identity remain; the merge remembers exactly which needs moved, so that an official can undo it
without taking along needs opened on the kept record since. Each need that moves is announced
(``MOVED``) in the same transaction, to subscribers of its old region and of its new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for, may
from hub.auth.principal import Principal
from hub.db.arrays import any_of
from hub.db.models import Child, ChildMerge, Need
from hub.domain import audit, events, idempotency
from hub.domain.claims import check_reason
from hub.domain.clock import utcnow
from hub.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.domain.events import NeedEvent, NeedEventKind
from hub.domain.jurisdiction import within
from hub.vocabulary import ChildStatus


@dataclass(frozen=True)
class MergeView:
    id: uuid.UUID
    kept_child_id: uuid.UUID
    merged_child_id: uuid.UUID
    moved_need_ids: tuple[uuid.UUID, ...]
    reason: str
    merged_at: datetime
    undone_at: datetime | None
    undo_reason: str | None


def _view(merge: ChildMerge) -> MergeView:
    return MergeView(
        id=merge.id,
        kept_child_id=merge.kept_child_id,
        merged_child_id=merge.merged_child_id,
        moved_need_ids=tuple(merge.moved_need_ids),
        reason=merge.reason,
        merged_at=merge.merged_at,
        undone_at=merge.undone_at,
        undo_reason=merge.undo_reason,
    )


async def merges_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MergeView]:
    """Merges of children the principal may read as an official."""
    wanted = list(set(ids))
    prefixes = jurisdictions_for(principal, Permission.WRITE_REGISTER)
    if not wanted or not prefixes:
        return {}
    rows = await session.scalars(
        select(ChildMerge)
        .join(Child, Child.id == ChildMerge.kept_child_id)
        .where(any_of(ChildMerge.id, wanted), within(Child.region_code, prefixes))
    )
    return {merge.id: _view(merge) for merge in rows}


async def _locked_children(
    session: AsyncSession, principal: Principal, ids: tuple[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, Child]:
    """Both children locked, in id order so that two merges of one pair cannot deadlock."""
    readable = jurisdictions_for(principal, Permission.READ_REGISTER)
    rows = (
        await session.scalars(
            select(Child)
            .where(any_of(Child.id, ids), within(Child.region_code, readable))
            .order_by(Child.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    children = {child.id: child for child in rows}
    for child_id, name in zip(ids, ("keepId", "mergeId"), strict=True):
        if child_id not in children:
            raise NotFound("no such child", field=name)
        if not may(principal, Permission.WRITE_REGISTER, children[child_id].region_code):
            raise Forbidden("merging children is for officials of both children's regions")
    return children


async def _locked_regions(
    session: AsyncSession, which: ColumnElement[bool]
) -> dict[uuid.UUID, str]:
    """The needs ``which`` selects, locked in id order, with the region each is in now."""
    rows = await session.execute(
        select(Need.id, Need.region_code).where(which).order_by(Need.id).with_for_update()
    )
    return {need_id: region_code for need_id, region_code in rows}


async def _moved(
    session: AsyncSession,
    moving: Update,
    child_id: uuid.UUID,
    region_code: str,
    was: dict[uuid.UUID, str],
) -> list[uuid.UUID]:
    """Move the needs ``moving`` selects to the child (and its region), announcing each move
    in this transaction; the ids of those moved."""
    rows = (
        await session.execute(
            moving.values(
                child_id=child_id,
                region_code=region_code,
                version=Need.version + 1,
                updated_at=func.now(),
            ).returning(Need.id, Need.category)
        )
    ).all()
    at = utcnow()
    moves = [
        NeedEvent(
            need_id,
            NeedEventKind.MOVED,
            region_code,
            category,
            at,
            previous_region_code=None if was[need_id] == region_code else was[need_id],
        )
        for need_id, category in rows
    ]
    await events.announce(session, moves)
    return [move.need_id for move in moves]


async def merge_children(
    session: AsyncSession,
    principal: Principal,
    keep_id: uuid.UUID,
    merge_id: uuid.UUID,
    reason: str,
    *,
    idempotency_key: str | None = None,
) -> MergeView:
    if not may(principal, Permission.WRITE_REGISTER):
        raise Forbidden("merging children is for officials")
    if keep_id == merge_id:
        raise InvalidInput("a child cannot be merged into itself", field="mergeId")
    cleaned = check_reason(reason)
    children = await _locked_children(session, principal, (keep_id, merge_id))
    if idempotency_key is not None:
        replay = await idempotency.claim_key(
            session,
            principal,
            idempotency_key,
            "mergeChildren",
            {"keep": keep_id, "merge": merge_id, "reason": cleaned},
        )
        if replay is not None:
            merge = await session.get(ChildMerge, uuid.UUID(replay.result_id))
            if merge is None:
                raise NotFound("the merge made by the first request no longer exists")
            return _view(merge)
    kept, merged = children[keep_id], children[merge_id]
    for child in (kept, merged):
        if child.status is not ChildStatus.ACTIVE:
            raise Conflict(f"child {child.code} was already merged into another record")
    # Lock the needs before moving them: claims and deliveries lock their need first too.
    was = await _locked_regions(session, Need.child_id == merged.id)
    moved = await _moved(
        session, update(Need).where(Need.child_id == merged.id), kept.id, kept.region_code, was
    )
    merged.status = ChildStatus.MERGED
    merged.merged_into_id = kept.id
    merged.version += 1
    merged.updated_at = utcnow()
    merge = ChildMerge(
        id=uuid.uuid4(),
        kept_child_id=kept.id,
        merged_child_id=merged.id,
        moved_need_ids=moved,
        reason=cleaned,
        merged_by_member_id=principal.member_id,
        merged_by_provider_id=principal.provider_id,
    )
    session.add(merge)
    data = {
        "merge_id": str(merge.id),
        "kept": str(kept.id),
        "merged": str(merged.id),
        "moved_needs": [str(need_id) for need_id in moved],
        "reason": cleaned,
    }
    audit.record(
        session, principal, "child.merged", "child", merged.id, data, region_code=merged.region_code
    )
    audit.record(
        session, principal, "child.merge_kept", "child", kept.id, data, region_code=kept.region_code
    )
    await session.flush()
    if idempotency_key is not None:
        await idempotency.remember_result(session, principal, idempotency_key, merge.id)
    await session.refresh(merge)
    return _view(merge)


async def undo_merge(
    session: AsyncSession, principal: Principal, merge_id: uuid.UUID, reason: str
) -> MergeView:
    """Split a merge: the merged record is active again and gets back the needs that moved
    (those still on the kept record), with their claims and deliveries."""
    if not may(principal, Permission.WRITE_REGISTER):
        raise Forbidden("undoing a merge is for officials")
    cleaned = check_reason(reason)
    merge = await session.get(ChildMerge, merge_id)
    if merge is None:
        raise NotFound("no such merge")
    children = await _locked_children(
        session, principal, (merge.kept_child_id, merge.merged_child_id)
    )
    merge = (
        await session.execute(
            select(ChildMerge)
            .where(ChildMerge.id == merge_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if merge.undone_at is not None:
        raise Conflict("this merge was already undone")
    kept, merged = children[merge.kept_child_id], children[merge.merged_child_id]
    was = await _locked_regions(session, Need.id.in_(merge.moved_need_ids))
    returned = await _moved(
        session,
        update(Need).where(Need.id.in_(merge.moved_need_ids), Need.child_id == kept.id),
        merged.id,
        merged.region_code,
        was,
    )
    merged.status = ChildStatus.ACTIVE
    merged.merged_into_id = None
    merged.version += 1
    merged.updated_at = utcnow()
    merge.undone_at = utcnow()
    merge.undo_reason = cleaned
    merge.undone_by_member_id = principal.member_id
    merge.undone_by_provider_id = principal.provider_id
    data = {
        "merge_id": str(merge.id),
        "kept": str(kept.id),
        "merged": str(merged.id),
        "returned_needs": [str(need_id) for need_id in returned],
        "reason": cleaned,
    }
    audit.record(
        session,
        principal,
        "child.unmerged",
        "child",
        merged.id,
        data,
        region_code=merged.region_code,
    )
    audit.record(
        session,
        principal,
        "child.unmerge_kept",
        "child",
        kept.id,
        data,
        region_code=kept.region_code,
    )
    await session.flush()
    await session.refresh(merge)
    await session.refresh(merged)
    return _view(merge)
