"""What every resolver finds in ``info.context``: the principal, the loaders, a session factory.

Declared as a Protocol so that types in this package can reach DataLoaders without importing
the resolvers that build them.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from hub.auth.principal import Principal
from hub.domain.children import ChildView
from hub.domain.claims import ClaimView
from hub.domain.dedup import LikelyDuplicate
from hub.domain.deliveries import DeliveryView
from hub.domain.identity import IdentityView
from hub.domain.merges import MergeView
from hub.domain.needs import NeedView
from hub.domain.providers import ProviderView
from hub.domain.regions import RegionView
from hub.settings import Settings
from hub.vocabulary import NeedStatus


class Loaders(Protocol):
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


class HubContext(Protocol):
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    autocommit_sessions: async_sessionmaker[AsyncSession]
    loaders: Loaders
    request_id: str
    id_hash_key: bytes

    def require_principal(self) -> Principal: ...


Info = StrawberryInfo[HubContext, Any]
