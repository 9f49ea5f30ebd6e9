"""The directory of providers: who works where, on which kinds of need."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.models import Provider
from hub.domain.errors import Forbidden
from hub.domain.jurisdiction import validate_prefix
from hub.domain.pagination import Page, PageRequest, make_page, text_value, typed_key
from hub.vocabulary import NeedCategory, ProviderKind, ProviderStatus

CURSOR_KIND = "provider"


@dataclass(frozen=True)
class ProviderView:
    id: uuid.UUID
    name: str
    kind: ProviderKind
    status: ProviderStatus
    jurisdictions: tuple[str, ...]
    categories: tuple[NeedCategory, ...]


@dataclass(frozen=True)
class ProviderFilter:
    kinds: tuple[ProviderKind, ...] = ()
    category: NeedCategory | None = None
    # Providers working anywhere in this region: a jurisdiction above it, equal or below it.
    region: str | None = None


def _view(provider: Provider) -> ProviderView:
    return ProviderView(
        id=provider.id,
        name=provider.name,
        kind=provider.kind,
        status=provider.status,
        jurisdictions=tuple(provider.jurisdictions),
        categories=tuple(provider.categories),
    )


def _require_reader(principal: Principal) -> None:
    if not may(principal, Permission.READ_PROVIDERS):
        raise Forbidden("reading the provider directory needs a role in a provider")


async def providers_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ProviderView]:
    wanted = list(set(ids))
    if not wanted or not may(principal, Permission.READ_PROVIDERS):
        return {}
    rows = await session.scalars(select(Provider).where(Provider.id.in_(wanted)))
    return {provider.id: _view(provider) for provider in rows}


async def list_providers(
    session: AsyncSession, principal: Principal, where: ProviderFilter, page: PageRequest
) -> Page[ProviderView]:
    _require_reader(principal)
    query = select(Provider)
    if where.kinds:
        query = query.where(Provider.kind.in_(where.kinds))
    if where.category is not None:
        query = query.where(Provider.categories.contains([where.category]))
    if where.region is not None:
        region = validate_prefix(where.region, field="region")
        # A provider works in the region if one of its jurisdictions is above, at or below it.
        jurisdictions = func.unnest(Provider.jurisdictions).table_valued("j").render_derived()
        prefix = jurisdictions.c.j
        overlapping = (
            select(literal(1))
            .select_from(jurisdictions)
            .where(or_(literal(region).startswith(prefix), prefix.startswith(region)))
            .exists()
        )
        query = query.where(overlapping)
    if page.after is not None:
        name, provider_id = typed_key(page.after, text_value, uuid.UUID)
        query = query.where(
            (Provider.name > name) | ((Provider.name == name) & (Provider.id > provider_id))
        )
    rows = (
        await session.scalars(query.order_by(Provider.name, Provider.id).limit(page.first + 1))
    ).all()
    return make_page(
        [_view(p) for p in rows], page, CURSOR_KIND, lambda view: (view.name, str(view.id))
    )
