"""Root fields for the provider directory, and mutations that create and suspend providers."""

from __future__ import annotations

from hub.domain import providers
from hub.resolvers.ids import uuid_of
from hub.resolvers.paging import page_of
from hub.schema.context import Info
from hub.schema.inputs import CreateProviderInput, ProviderFilter, SetProviderStatusInput
from hub.schema.pagination import Connection, connection_of
from hub.schema.payloads import ProviderPayload
from hub.schema.providers import Provider
from hub.vocabulary import ProviderStatus


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


async def create_provider(
    info: Info, input: CreateProviderInput, idempotency_key: str | None = None
) -> ProviderPayload:
    principal = info.context.require_principal()
    data = providers.NewProvider(
        name=input.name,
        kind=input.kind,
        jurisdictions=tuple(input.jurisdictions),
        categories=tuple(input.categories),
    )
    async with info.context.sessions.begin() as session:
        view = await providers.create_provider(
            session, principal, data, idempotency_key=idempotency_key
        )
    return ProviderPayload(provider=Provider.from_view(view))


async def _set_status(
    info: Info, input: SetProviderStatusInput, status: ProviderStatus
) -> ProviderPayload:
    principal = info.context.require_principal()
    provider_id = uuid_of(input.id, "Provider")
    async with info.context.sessions.begin() as session:
        view = await providers.set_provider_status(
            session, principal, provider_id, input.version, status, input.reason
        )
    return ProviderPayload(provider=Provider.from_view(view))


async def suspend_provider(info: Info, input: SetProviderStatusInput) -> ProviderPayload:
    return await _set_status(info, input, ProviderStatus.SUSPENDED)


async def reactivate_provider(info: Info, input: SetProviderStatusInput) -> ProviderPayload:
    return await _set_status(info, input, ProviderStatus.ACTIVE)
