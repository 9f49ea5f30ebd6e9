"""Root fields for coverage, overlapping aid and providers' accountability."""

from __future__ import annotations

from datetime import datetime

from hub.domain import accountability, coverage, overlaps
from hub.domain.errors import InvalidInput
from hub.domain.rules import CoordinationRules
from hub.schema.context import Info
from hub.schema.oversight import CoverageReport, Overlap, ProviderAccountability


async def resolve_coverage(info: Info, jurisdiction: str | None = None) -> CoverageReport:
    principal = info.context.require_principal()
    async with info.context.sessions() as session:
        report = await coverage.coverage_report(session, principal, jurisdiction)
    return CoverageReport.from_view(report)


async def resolve_overlaps(
    info: Info,
    jurisdiction: str | None = None,
    since: datetime | None = None,
    first: int | None = None,
) -> list[Overlap]:
    principal = info.context.require_principal()
    limit = overlaps.MAX_OVERLAPS if first is None else first
    if not 1 <= limit <= overlaps.MAX_OVERLAPS:
        raise InvalidInput(f"first must be between 1 and {overlaps.MAX_OVERLAPS}", field="first")
    rules = CoordinationRules.from_settings(info.context.settings)
    async with info.context.sessions() as session:
        found = await overlaps.list_overlaps(
            session, principal, jurisdiction, since, rules, limit=limit
        )
    return [Overlap.from_view(view) for view in found]


async def resolve_accountability(
    info: Info, jurisdiction: str | None = None, since: datetime | None = None
) -> list[ProviderAccountability]:
    principal = info.context.require_principal()
    async with info.context.sessions() as session:
        records = await accountability.accountability(session, principal, jurisdiction, since)
    return [ProviderAccountability.from_view(record) for record in records]
