"""The directory of providers: who works where, on which kinds of need."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may, may_everywhere
from hub.auth.principal import Principal
from hub.db.arrays import any_of
from hub.db.models import Provider
from hub.domain import audit, idempotency
from hub.domain.clock import utcnow
from hub.domain.errors import Forbidden, InvalidInput, NotFound, StaleVersion
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
    version: int = 1


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
        version=provider.version,
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
    rows = await session.scalars(select(Provider).where(any_of(Provider.id, wanted)))
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


# --- administration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewProvider:
    name: str
    kind: ProviderKind
    jurisdictions: tuple[str, ...]
    categories: tuple[NeedCategory, ...]


def _region_of(jurisdictions: list[str] | tuple[str, ...]) -> str | None:
    return jurisdictions[0] if len(jurisdictions) == 1 else None


async def create_provider(
    session: AsyncSession,
    principal: Principal,
    data: NewProvider,
    *,
    idempotency_key: str | None = None,
) -> ProviderView:
    name = data.name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("give a name of 1 to 200 characters", field="name")
    jurisdictions = tuple(
        dict.fromkeys(validate_prefix(j, field="jurisdictions") for j in data.jurisdictions)
    )
    if not jurisdictions:
        raise InvalidInput("a provider works in at least one region", field="jurisdictions")
    if not may_everywhere(principal, Permission.MANAGE_PROVIDERS, jurisdictions):
        raise Forbidden("creating providers there is beyond your jurisdiction")
    if idempotency_key is not None:
        replay = await idempotency.claim_key(
            session,
            principal,
            idempotency_key,
            "createProvider",
            {"name": name, "kind": data.kind, "j": jurisdictions, "c": sorted(data.categories)},
        )
        if replay is not None:
            existing = await session.get(Provider, uuid.UUID(replay.result_id))
            if existing is None:
                raise NotFound("the provider created by the first request no longer exists")
            return _view(existing)
    provider = Provider(
        id=uuid.uuid4(),
        name=name,
        kind=data.kind,
        jurisdictions=list(jurisdictions),
        categories=sorted(set(data.categories)),
    )
    session.add(provider)
    await session.flush()
    audit.record(
        session,
        principal,
        "provider.created",
        "provider",
        provider.id,
        {"name": name, "kind": data.kind.value, "jurisdictions": list(jurisdictions)},
        region_code=_region_of(jurisdictions),
    )
    if idempotency_key is not None:
        await idempotency.remember_result(session, principal, idempotency_key, provider.id)
    await session.refresh(provider)
    return _view(provider)


async def set_provider_status(
    session: AsyncSession,
    principal: Principal,
    provider_id: uuid.UUID,
    version: int,
    status: ProviderStatus,
    reason: str,
) -> ProviderView:
    """Suspend a provider (its members and clients stop working on their next request) or
    reactivate it."""
    provider = await session.get(Provider, provider_id, with_for_update=True)
    if provider is None:
        raise NotFound("no such provider")
    if not may_everywhere(principal, Permission.MANAGE_PROVIDERS, provider.jurisdictions):
        raise Forbidden("managing this provider is beyond your jurisdiction")
    if provider.id == principal.provider_id:
        raise Forbidden("you cannot change the status of your own provider")
    if provider.version != version:
        raise StaleVersion(
            "the provider was changed since you read it", current_version=provider.version
        )
    cleaned = reason.strip()
    if not cleaned or len(cleaned) > 500:
        raise InvalidInput("give a reason of 1 to 500 characters", field="reason")
    if provider.status is not status:
        provider.status = status
        provider.version += 1
        provider.updated_at = utcnow()
        audit.record(
            session,
            principal,
            f"provider.{'suspended' if status is ProviderStatus.SUSPENDED else 'reactivated'}",
            "provider",
            provider.id,
            {"reason": cleaned, "version": provider.version},
            region_code=_region_of(provider.jurisdictions),
        )
        await session.flush()
    return _view(provider)
