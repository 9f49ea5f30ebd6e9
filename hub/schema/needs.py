"""Need: one concrete need of one child."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from hub.auth.policy import SENSITIVE_CATEGORY_READERS
from hub.domain.errors import NotFound
from hub.domain.needs import NeedView
from hub.schema.children import Child
from hub.schema.context import Info
from hub.schema.federation import CASE_DETAIL
from hub.schema.ids import uuid_of
from hub.schema.regions import Region, load_region
from hub.vocabulary import NeedCategory, NeedStatus, NeedUnit, Urgency

if TYPE_CHECKING:
    from hub.schema.coordination import Claim

logger = logging.getLogger(__name__)

_SENSITIVE = [category.name for category in NeedCategory if category in SENSITIVE_CATEGORY_READERS]


# Who reads the text of a need, and of the claims and deliveries on it (hub.domain.disclosure),
# written from the policy's own list of sensitive categories.
def _text_readers(need: str) -> str:
    return (
        f"officials of the child's region, and a provider holding an active claim on {need} (a "
        "claim on another need of the child is not enough); for "
        f"{', '.join(_SENSITIVE[:-1])} and {_SENSITIVE[-1]} needs, only a provider whose kind "
        "may read that category and which serves it. Null for everyone else."
    )


NEED_TEXT = f"The need's own text: for {_text_readers('this very need')}"


def record_text(record: str, owner: str) -> str:
    """The description of a claim's or a delivery's text field, ``owner`` always reading it."""
    return (
        f"For {owner}; otherwise as the need's description: for "
        f"{_text_readers(f'the {record} need')}"
    )


@strawberry.federation.type(keys=["id"], description="One concrete need of one child.")
class Need(relay.Node):
    view: strawberry.Private[NeedView]
    category: NeedCategory
    urgency: Urgency
    status: NeedStatus
    quantity: Decimal | None = strawberry.field(
        description="For a divisible need (money, items, hours): how much; null otherwise."
    )
    unit: NeedUnit | None
    pledged_quantity: Decimal = strawberry.field(
        description="Held by active and fulfilled claims, plus what ended claims delivered; an "
        "indivisible need counts as 1."
    )
    remaining_quantity: Decimal = strawberry.field(
        description="What can still be pledged (an indivisible need: 1 while unclaimed)."
    )
    due_date: date | None
    version: int = strawberry.field(
        description="Send it back with an update; a stale one is refused."
    )
    created_at: datetime
    updated_at: datetime
    description: str | None = strawberry.federation.field(description=NEED_TEXT, tags=[CASE_DETAIL])
    cancel_reason: str | None = strawberry.federation.field(
        description="Why it was cancelled: for those who read the description.",
        tags=[CASE_DETAIL],
    )

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.view.id)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Need | None:
        """A federation reference, seen as ``need(id)`` would see it: null when out of reach."""
        view = await info.context.loaders.need.load(uuid_of(id, "Need"))
        return None if view is None else cls.from_view(view)

    @classmethod
    def from_view(cls, view: NeedView) -> Need:
        return cls(
            view=view,
            category=view.category,
            urgency=view.urgency,
            status=view.status,
            quantity=view.quantity,
            unit=view.unit,
            pledged_quantity=view.pledged_quantity,
            remaining_quantity=view.remaining_quantity,
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
            # A need's reader reaches its child: only an inconsistent register (a child moved
            # away from its needs' county) fails that. The child reads like a missing one, as
            # a foreign record does everywhere; the operator is told of the inconsistency.
            logger.warning(
                "need %s: its child %s is out of its reader's reach",
                self.view.id,
                self.view.child_id,
            )
            raise NotFound("no such child")
        return Child.from_view(view)

    @strawberry.field(
        description="The child's village for readers of case detail; otherwise its county."
    )
    async def region(self, info: Info) -> Region:
        return await load_region(info, self.view.region_code)

    @strawberry.field(description="Every claim made on this need, oldest first.")
    async def claims(
        self, info: Info
    ) -> list[Annotated[Claim, strawberry.lazy("hub.schema.coordination")]]:
        from hub.schema.coordination import Claim

        views = await info.context.loaders.claims_of_need.load(self.view.id)
        return [Claim.from_view(view) for view in views]
