"""Mutations that merge a duplicate child into the record kept, and undo it."""

from __future__ import annotations

from hub.domain import merges
from hub.resolvers.ids import uuid_of
from hub.schema.context import Info
from hub.schema.inputs import MergeChildrenInput, UnmergeChildrenInput
from hub.schema.merges import ChildMerge, MergePayload


async def merge_children(
    info: Info, input: MergeChildrenInput, idempotency_key: str | None = None
) -> MergePayload:
    principal = info.context.require_principal()
    keep = uuid_of(input.keep_id, "Child", field="keepId")
    merge = uuid_of(input.merge_id, "Child", field="mergeId")
    async with info.context.sessions.begin() as session:
        view = await merges.merge_children(
            session, principal, keep, merge, input.reason, idempotency_key=idempotency_key
        )
    return MergePayload(merge=ChildMerge.from_view(view))


async def unmerge_children(info: Info, input: UnmergeChildrenInput) -> MergePayload:
    principal = info.context.require_principal()
    merge_id = uuid_of(input.merge_id, "ChildMerge", field="mergeId")
    async with info.context.sessions.begin() as session:
        view = await merges.undo_merge(session, principal, merge_id, input.reason)
    return MergePayload(merge=ChildMerge.from_view(view))
