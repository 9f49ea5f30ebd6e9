"""Aggregates: counts only, never a single child or need."""

from __future__ import annotations

import strawberry

from hub.vocabulary import NeedCategory, NeedStatus


@strawberry.type(description="How many needs of one category are in one status.")
class NeedCount:
    category: NeedCategory
    status: NeedStatus
    count: int
