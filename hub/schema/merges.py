"""ChildMerge: one child's duplicate record folded into another, and possibly undone."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from hub.domain.errors import NotFound
from hub.domain.merges import MergeView
from hub.schema.children import Child
from hub.schema.context import Info


async def _child(info: Info, child_id: uuid.UUID) -> Child:
    view = await info.context.loaders.child.load(child_id)
    if view is None:
        raise NotFound("no such child")
    return Child.from_view(view)


@strawberry.type(
    description="A duplicate record merged into the one kept; an official may undo it."
)
class ChildMerge(relay.Node):
    view: strawberry.Private[MergeView]
    reason: str
    merged_at: datetime
    moved_needs: int = strawberry.field(description="How many needs moved to the kept record.")
    undone_at: datetime | None
    undo_reason: str | None

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.view.id)

    @classmethod
    def from_view(cls, view: MergeView) -> ChildMerge:
        return cls(
            view=view,
            reason=view.reason,
            merged_at=view.merged_at,
            moved_needs=len(view.moved_need_ids),
            undone_at=view.undone_at,
            undo_reason=view.undo_reason,
        )

    @strawberry.field
    async def kept(self, info: Info) -> Child:
        return await _child(info, self.view.kept_child_id)

    @strawberry.field
    async def merged(self, info: Info) -> Child:
        return await _child(info, self.view.merged_child_id)


@strawberry.type
class MergePayload:
    merge: ChildMerge
