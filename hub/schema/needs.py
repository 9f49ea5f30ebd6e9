"""Need: one concrete need of one child."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry import relay

from hub.domain.errors import NotFound
from hub.domain.needs import NeedView
from hub.schema.children import Child
from hub.schema.context import Info
from hub.schema.regions import Region, load_region
from hub.vocabulary import NeedCategory, NeedStatus, NeedUnit, Urgency


@strawberry.type(description="One concrete need of one child.")
class Need(relay.Node):
    view: strawberry.Private[NeedView]
    category: NeedCategory
    urgency: Urgency
    status: NeedStatus
    quantity: Decimal | None = strawberry.field(
        description="For a divisible need (money, items, hours): how much; null otherwise."
    )
    unit: NeedUnit | None
    due_date: date | None
    version: int = strawberry.field(
        description="Send it back with an update; a stale one is refused."
    )
    created_at: datetime
    updated_at: datetime
    description: str | None = strawberry.field(description="Case detail.")
    cancel_reason: str | None = strawberry.field(description="Case detail.")

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.view.id)

    @classmethod
    def from_view(cls, view: NeedView) -> Need:
        return cls(
            view=view,
            category=view.category,
            urgency=view.urgency,
            status=view.status,
            quantity=view.quantity,
            unit=view.unit,
            due_date=view.due_date,
            version=view.version,
            created_at=view.created_at,
            updated_at=view.updated_at,
            description=view.description,
            cancel_reason=view.cancel_reason,
        )

    @strawberry.field(description="The child who has this need.")
    async def child(self, info: Info) -> Child:
        view = await info.context.loaders.child.load(self.view.child_id)
        if view is None:
            raise NotFound("no such child")
        return Child.from_view(view)

    @strawberry.field(
        description="The child's village for readers of case detail; otherwise its county."
    )
    async def region(self, info: Info) -> Region:
        return await load_region(info, self.view.region_code)
