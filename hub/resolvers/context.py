"""The request context: built once per request, with the principal read live from the database."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.principal import Principal
from hub.domain.errors import Unauthenticated
from hub.domain.event_broker import EventBroker
from hub.resolvers.loaders import RequestLoaders, build_loaders
from hub.settings import Settings


@dataclass
class Context:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    # For reads and single-statement writes: no BEGIN/COMMIT round trips (see
    # ``hub.db.engine.autocommit_session_factory``).
    autocommit_sessions: async_sessionmaker[AsyncSession]
    id_hash_key: bytes
    principal: Principal | None
    # Why the request has no principal, when it has none: told to the client on refusal.
    unauthenticated_reason: str = "sign in to use the hub"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # For subscriptions over a WebSocket: the process's event fan-out, the credentials the
    # connection presented (read again to re-check the principal), when its token expires
    # (seconds since the epoch), and how to turn credentials into a principal.
    broker: EventBroker | None = None
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    expires_at: float | None = None
    authenticate: Callable[[Mapping[str, str]], Awaitable[tuple[Principal | None, str]]] | None = (
        None
    )
    # What the client sent in graphql-transport-ws's connection_init.
    connection_params: dict[str, Any] | None = None
    # For the operation limits: whose budget an anonymous request spends, the HTTP response
    # whose status and headers a refusal sets, whether the compiled path already charged this
    # request, and the subscriptions this WebSocket connection has running.
    client_address: str | None = None
    response: Any = field(default=None, repr=False)
    prepaid: bool = False
    active_subscriptions: int = 0
    # Counts this WebSocket connection out of its principal's open connections, once it
    # closes (``hub.websocket_limits``); None until connection_init is accepted.
    release_connection: Callable[[], None] | None = field(default=None, repr=False)
    loaders: RequestLoaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = build_loaders(self.sessions, self.autocommit_sessions, self.principal)

    def act_as(self, principal: Principal | None, reason: str = "") -> None:
        """Switch to a freshly read principal, with loaders that cache nothing read before:
        a long-lived WebSocket context would otherwise serve stale rows and stale roles."""
        self.principal = principal
        if reason:
            self.unauthenticated_reason = reason
        self.loaders = build_loaders(self.sessions, self.autocommit_sessions, principal)

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated(self.unauthenticated_reason)
        return self.principal
