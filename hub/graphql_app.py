"""The /graphql endpoint: Strawberry's ASGI app with the hub's request context."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from hub.resolvers.context import Context


class HubGraphQL(GraphQL[Context, None]):
    def encode_json(self, data: object) -> bytes:
        # orjson writes UTF-8 directly (Chinese text unescaped) and several times
        # faster than the standard library; results hold only JSON types by now.
        return orjson.dumps(data)

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
