"""Per-request DataLoaders: nested fields load in batches, one statement per kind per level.

Each batch opens its own short session, because sibling fields resolve concurrently and an
AsyncSession must not be shared between concurrent tasks. Loaders belong to one request, so
they see with that request's principal.

Every loader here is a ``SharedDataLoader``: a key's result is shared by every field that
asks for it, so one asker's cancellation must not cancel it for the others (see there).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from hub.auth.principal import Principal
from hub.domain import (
    children,
    claims,
    dedup,
    deliveries,
    identity,
    merges,
    needs,
    providers,
    regions,
)
from hub.domain.children import ChildView
from hub.domain.claims import ClaimView
from hub.domain.dedup import LikelyDuplicate
from hub.domain.deliveries import DeliveryView
from hub.domain.identity import IdentityView
from hub.domain.merges import MergeView
from hub.domain.needs import NeedView
from hub.domain.providers import ProviderView
from hub.domain.regions import RegionView
from hub.vocabulary import NeedStatus

K = TypeVar("K")
V = TypeVar("V")


class SharedDataLoader(DataLoader[K, V]):
    """A DataLoader whose callers each await a shield of the key's one shared future.

    A plain DataLoader hands every caller the same future. When a non-null field fails,
    graphql-core cancels that object's pending sibling fields, and cancelling a task cancels
    the future it awaits: the shared one. Every other field waiting for the same key (the
    same county's region under each need of a page) then raised ``CancelledError``, which is
    no ``Exception``, so it escaped the request instead of becoming a field error. Shielded,
    the cancelled field stops waiting and the others still get their value.
    """

    def load(self, key: K) -> Awaitable[V]:
        return asyncio.shield(super().load(key))

    def load_many(self, keys: Iterable[K]) -> Awaitable[list[V]]:
        return asyncio.gather(*map(self.load, keys))


def _by_key(
    sessions: async_sessionmaker[AsyncSession],
    fetch: Callable[[AsyncSession, list[K]], Awaitable[dict[K, V]]],
) -> DataLoader[K, V | None]:
    async def batch(keys: Sequence[K]) -> list[V | None]:
        async with sessions() as session:
            found = await fetch(session, list(keys))
        return [found.get(key) for key in keys]

    return SharedDataLoader(load_fn=batch)


def _grouped(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal | None,
    fetch: Callable[[AsyncSession, Principal, list[K]], Awaitable[dict[K, list[V]]]],
) -> DataLoader[K, list[V]]:
    """A loader of lists: every key gets its (possibly empty) list, in one statement."""

    async def batch(keys: Sequence[K]) -> list[list[V]]:
        if principal is None:
            return [[] for _ in keys]
        async with sessions() as session:
            found = await fetch(session, principal, list(keys))
        return [found.get(key, []) for key in keys]

    return SharedDataLoader(load_fn=batch)


@dataclass
class RequestLoaders:
    region: DataLoader[str, RegionView | None]
    child: DataLoader[uuid.UUID, ChildView | None]
    need: DataLoader[uuid.UUID, NeedView | None]
    provider: DataLoader[uuid.UUID, ProviderView | None]
    needs_of_child: DataLoader[tuple[uuid.UUID, tuple[NeedStatus, ...]], list[NeedView]]
    identity: DataLoader[tuple[uuid.UUID, str], IdentityView | None]
    claim: DataLoader[uuid.UUID, ClaimView | None]
    delivery: DataLoader[uuid.UUID, DeliveryView | None]
    claims_of_need: DataLoader[uuid.UUID, list[ClaimView]]
    deliveries_of_claim: DataLoader[uuid.UUID, list[DeliveryView]]
    merge: DataLoader[uuid.UUID, MergeView | None]
    likely_duplicates: DataLoader[uuid.UUID, list[LikelyDuplicate]]


def build_loaders(
    sessions: async_sessionmaker[AsyncSession],
    reads: async_sessionmaker[AsyncSession],
    principal: Principal | None,
) -> RequestLoaders:
    """``reads``: sessions without a transaction (``autocommit_session_factory``), for the
    batches that only read; ``sessions`` for identity reads, whose access records commit with
    the read."""

    def as_principal(
        fetch: Callable[[AsyncSession, Principal, list[K]], Awaitable[dict[K, V]]],
    ) -> Callable[[AsyncSession, list[K]], Awaitable[dict[K, V]]]:
        async def run(session: AsyncSession, keys: list[K]) -> dict[K, V]:
            if principal is None:
                return {}
            return await fetch(session, principal, keys)

        return run

    async def needs_of_children(
        keys: Sequence[tuple[uuid.UUID, tuple[NeedStatus, ...]]],
    ) -> list[list[NeedView]]:
        if principal is None:
            return [[] for _ in keys]
        by_statuses: dict[tuple[NeedStatus, ...], list[uuid.UUID]] = defaultdict(list)
        for child_id, statuses in keys:
            by_statuses[statuses].append(child_id)
        found: dict[tuple[uuid.UUID, tuple[NeedStatus, ...]], list[NeedView]] = {}
        async with reads() as session:
            for statuses, child_ids in by_statuses.items():
                grouped = await needs.needs_of_children(session, principal, child_ids, statuses)
                found.update({(cid, statuses): views for cid, views in grouped.items()})
        return [found.get(key, []) for key in keys]

    async def identities(
        keys: Sequence[tuple[uuid.UUID, str]],
    ) -> list[IdentityView | None]:
        if principal is None:
            return [None for _ in keys]
        by_purpose: dict[str, list[uuid.UUID]] = defaultdict(list)
        for child_id, purpose in keys:
            by_purpose[purpose].append(child_id)
        found: dict[tuple[uuid.UUID, str], IdentityView] = {}
        # The access records commit with the read, in one transaction.
        async with sessions.begin() as session:
            for purpose, child_ids in by_purpose.items():
                views = await identity.read_identities(session, principal, child_ids, purpose)
                found.update({(cid, purpose): view for cid, view in views.items()})
        return [found.get(key) for key in keys]

    return RequestLoaders(
        region=_by_key(reads, regions.regions_by_codes),
        child=_by_key(reads, as_principal(children.children_by_ids)),
        need=_by_key(reads, as_principal(needs.needs_by_ids)),
        provider=_by_key(reads, as_principal(providers.providers_by_ids)),
        needs_of_child=SharedDataLoader(load_fn=needs_of_children),
        identity=SharedDataLoader(load_fn=identities),
        claim=_by_key(reads, as_principal(claims.claims_by_ids)),
        delivery=_by_key(reads, as_principal(deliveries.deliveries_by_ids)),
        claims_of_need=_grouped(reads, principal, claims.claims_of_needs),
        deliveries_of_claim=_grouped(reads, principal, deliveries.deliveries_of_claims),
        merge=_by_key(reads, as_principal(merges.merges_by_ids)),
        likely_duplicates=_grouped(reads, principal, dedup.likely_duplicates_of),
    )
