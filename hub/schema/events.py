"""NeedEvent: something that happened to a need, as a subscriber may see it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from hub.domain.events import NeedEventKind
from hub.schema.needs import Need

strawberry.enum(NeedEventKind, name="NeedEventKind")


@strawberry.type(description="Something that happened to a need within your reach.")
class NeedEvent:
    kind: NeedEventKind
    at: datetime = strawberry.field(description="When it happened.")
    need: Need = strawberry.field(description="The need as it is now, as you may see it.")
    cursor: str = strawberry.field(
        description="Where this stream stands in the change feed: resubscribe with it as "
        "`after` (or read `needs(orderBy: CHANGED, after:)` from it) and you miss nothing that "
        "changed since; some needs may come again."
    )
