"""Root fields for the provider directory."""

from __future__ import annotations

from hub.domain import providers
from hub.resolvers.paging import page_of
from hub.schema.context import Info
from hub.schema.inputs import ProviderFilter
from hub.schema.pagination import Connection, connection_of
from hub.schema.providers import Provider


async def resolve_providers(
    info: Info,
    filter: ProviderFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Provider]:
    principal = info.context.require_principal()
    page = page_of(info, first, after, kind=providers.CURSOR_KIND, arity=2)
    where = providers.ProviderFilter()
    if filter is not None:
        where = providers.ProviderFilter(
            kinds=tuple(filter.kinds or ()), category=filter.category, region=filter.region
        )
    async with info.context.sessions() as session:
        found = await providers.list_providers(session, principal, where, page)
    return connection_of(found, Provider.from_view)
