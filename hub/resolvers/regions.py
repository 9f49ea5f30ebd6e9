"""Root fields for the region tree."""

from __future__ import annotations

from hub.domain import regions
from hub.domain.jurisdiction import validate_prefix
from hub.resolvers.paging import page_of
from hub.schema.context import Info
from hub.schema.pagination import Connection, connection_of
from hub.schema.regions import Region


async def resolve_regions(
    info: Info,
    parent_code: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Region]:
    info.context.require_principal()
    page = page_of(info, first, after, kind=regions.CURSOR_KIND)
    async with info.context.sessions() as session:
        found = await regions.list_regions(session, parent_code, page)
    return connection_of(found, Region.from_view)


async def resolve_region(info: Info, code: str) -> Region | None:
    info.context.require_principal()
    view = await info.context.loaders.region.load(validate_prefix(code, field="code"))
    return None if view is None else Region.from_view(view)
