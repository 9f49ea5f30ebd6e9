"""Root field for likely duplicates across the register."""

from __future__ import annotations

from hub.domain import dedup
from hub.resolvers.paging import page_of
from hub.schema.context import Info
from hub.schema.dedup import DuplicatePair
from hub.schema.pagination import Connection, connection_of


async def resolve_likely_duplicates(
    info: Info,
    jurisdiction: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[DuplicatePair]:
    principal = info.context.require_principal()
    page = page_of(info, first, after, kind=dedup.CURSOR_KIND, arity=2)
    async with info.context.sessions() as session:
        found = await dedup.list_likely_duplicates(session, principal, jurisdiction, page)
    return connection_of(found, DuplicatePair.from_view)
