"""The request context: built once per request, with the principal read live from the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.principal import Principal
from hub.domain.errors import Unauthenticated
from hub.resolvers.loaders import RequestLoaders, build_loaders
from hub.settings import Settings


@dataclass
class Context:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    id_hash_key: bytes
    principal: Principal | None
    # Why the request has no principal, when it has none: told to the client on refusal.
    unauthenticated_reason: str = "sign in to use the hub"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    loaders: RequestLoaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = build_loaders(self.sessions, self.principal)

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated(self.unauthenticated_reason)
        return self.principal
