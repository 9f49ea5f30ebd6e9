"""``accessLog(childId)``: who read a child's identity, for officials and auditors."""

from __future__ import annotations

import strawberry

from hub.domain import identity
from hub.resolvers.ids import uuid_of
from hub.resolvers.paging import page_of
from hub.schema.context import Info
from hub.schema.identity import AccessRecord
from hub.schema.pagination import Connection, connection_of


async def resolve_access_log(
    info: Info, child_id: strawberry.ID, first: int | None = None, after: str | None = None
) -> Connection[AccessRecord]:
    principal = info.context.require_principal()
    page = page_of(info, first, after, kind=identity.CURSOR_KIND)
    async with info.context.sessions() as session:
        found = await identity.access_log(
            session, principal, uuid_of(child_id, "Child", field="childId"), page
        )
    return connection_of(found, AccessRecord.from_view)
