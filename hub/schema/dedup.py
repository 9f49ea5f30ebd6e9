"""Likely duplicates: children who may be one child registered twice, for a person to judge."""

from __future__ import annotations

import strawberry

from hub.domain import dedup
from hub.domain.dedup import DuplicateReason
from hub.schema.children import Child


@strawberry.type(description="A child already registered who may be the same child.")
class LikelyDuplicate:
    child: Child
    reason: DuplicateReason

    @classmethod
    def from_view(cls, view: dedup.LikelyDuplicate) -> LikelyDuplicate:
        return cls(child=Child.from_view(view.child), reason=view.reason)


@strawberry.type(
    description="Two active children of one village and birth date whose names sound the same "
    "or nearly (homophones, pinyin, dialect): perhaps one child registered twice. Check them, "
    "and merge them if they are."
)
class DuplicatePair:
    child: Child = strawberry.field(description="The one with the earlier register code.")
    other: Child
    reason: DuplicateReason

    @classmethod
    def from_view(cls, view: dedup.DuplicatePair) -> DuplicatePair:
        return cls(
            child=Child.from_view(view.child),
            other=Child.from_view(view.other),
            reason=view.reason,
        )
