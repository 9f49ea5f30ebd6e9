"""``needStatistics``: counts of needs by category and status, within one's jurisdictions."""

from __future__ import annotations

from hub.domain import statistics
from hub.schema.context import Info
from hub.schema.statistics import NeedCount


async def resolve_need_statistics(info: Info, jurisdiction: str | None = None) -> list[NeedCount]:
    principal = info.context.require_principal()
    async with info.context.sessions() as session:
        counts = await statistics.need_counts(session, principal, jurisdiction)
    return [NeedCount(category=c.category, status=c.status, count=c.count) for c in counts]
