"""The /graphql endpoint: Strawberry's ASGI app with the hub's request context."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from hub.resolvers.context import Context


class HubGraphQL(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state: Any = request.app.state
        principal, reason = await state.authenticator.principal(request.headers)
        return Context(
            settings=state.settings,
            sessions=state.sessions,
            id_hash_key=state.id_hash_key,
            principal=principal,
            unauthenticated_reason=reason,
        )
