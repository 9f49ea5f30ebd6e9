"""What mutations return: the record as it now stands, for the caller to see."""

from __future__ import annotations

import strawberry

from hub.schema.children import Child
from hub.schema.dedup import LikelyDuplicate
from hub.schema.needs import Need
from hub.schema.providers import Provider


@strawberry.type
class ChildPayload:
    child: Child
    likely_duplicates: list[LikelyDuplicate] = strawberry.field(
        default_factory=list,
        description="Children of the same village and birth date whose names sound the same or "
        "nearly (homophones, pinyin, dialect): check them, and merge if they are this child.",
    )


@strawberry.type
class NeedPayload:
    need: Need


@strawberry.type
class ProviderPayload:
    provider: Provider
