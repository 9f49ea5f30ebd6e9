"""Region: a node of the statistical-code tree, identified by its code."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay

from hub.domain.jurisdiction import validate_prefix
from hub.domain.regions import RegionView, ancestor_codes
from hub.schema.context import Info
from hub.vocabulary import RegionLevel


@strawberry.federation.type(
    keys=["code"],
    description="An administrative division: province, city, county, township or village.",
)
class Region(relay.Node):
    code: str = strawberry.field(description="The statistical code: 2, 4, 6, 9 or 12 digits.")
    # Public statistical facts, the same wherever they are kept: a provider's subgraph that
    # stores its schools' regions may serve them too, sparing the gateway a trip to the hub.
    name: str = strawberry.federation.field(shareable=True)
    level: RegionLevel = strawberry.federation.field(shareable=True)
    parent_code: strawberry.Private[str | None]

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.code)

    @classmethod
    async def resolve_reference(cls, info: Info, code: str) -> Region | None:
        """A federation reference by region code, seen as ``region(code)`` would see it."""
        view = await info.context.loaders.region.load(validate_prefix(code, field="code"))
        return None if view is None else cls.from_view(view)

    @classmethod
    def from_view(cls, view: RegionView) -> Region:
        return cls(code=view.code, name=view.name, level=view.level, parent_code=view.parent_code)

    @strawberry.field(description="The region directly above this one; null for a province.")
    async def parent(self, info: Info) -> Region | None:
        if self.parent_code is None:
            return None
        view = await info.context.loaders.region.load(self.parent_code)
        return None if view is None else Region.from_view(view)

    @strawberry.field(description="The regions above this one, province first.")
    async def ancestors(self, info: Info) -> list[Region]:
        views = await info.context.loaders.region.load_many(ancestor_codes(self.code))
        return [Region.from_view(view) for view in views if view is not None]


async def load_region(info: Info, code: str) -> Region:
    view = await info.context.loaders.region.load(code)
    if view is None:  # a foreign key guarantees it; reaching here means the tree is broken
        raise LookupError(f"region {code} is missing")
    return Region.from_view(view)
