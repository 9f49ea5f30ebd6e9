"""The /graphql endpoint: Strawberry's ASGI app with the hub's request context.

Queries and mutations come over HTTP; subscriptions over a WebSocket speaking
graphql-transport-ws, whose client authenticates in ``connection_init`` with the same Bearer
access token an HTTP request would carry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from hub.auth.dev import MEMBER_HEADER
from hub.auth.tokens import TokenRejected, peek
from hub.resolvers.context import Context

AUTHORIZATION = "authorization"
# Set on a request's state by the compiled path once it has charged the request's cost, so that
# the normal path, should it answer after all, does not charge it twice.
PREPAID = "hub_prepaid"


class HubGraphQL(GraphQL[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        super().__init__(*args, **kwargs)

    def encode_json(self, data: object) -> str:
        # orjson writes UTF-8 directly (Chinese text unescaped) and several times faster than
        # the standard library; results hold only JSON types by now. Text, not bytes, because
        # the same encoder feeds WebSocket messages, which graphql-transport-ws sends as text.
        return orjson.dumps(data).decode()

    async def execute_operation(
        self,
        request: Any,
        request_adapter: Any,
        request_data: Any,
        context: Context,
        root_value: Any,
        sub_response: Any,
    ) -> Any:
        """End an operation that runs past the request timeout (its transaction rolls back)."""
        settings = context.settings
        try:
            async with asyncio.timeout(settings.request_timeout_seconds):
                return await super().execute_operation(
                    request, request_adapter, request_data, context, root_value, sub_response
                )
        except TimeoutError:
            sub_response.status_code = 504
            return _refusal(
                f"the operation took longer than {settings.request_timeout_seconds} s",
                "TIMEOUT",
                timeoutSeconds=settings.request_timeout_seconds,
            )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state: Any = request.app.state
        if isinstance(request, WebSocket):
            # Authenticated at connection_init (on_ws_connect), not at the handshake.
            return Context(
                settings=state.settings,
                sessions=state.sessions,
                id_hash_key=state.id_hash_key,
                principal=None,
                broker=state.event_broker,
                authenticate=state.authenticator.principal,
                credentials=_dev_credentials(request),
                client_address=_address(request),
            )
        principal, reason = await state.authenticator.principal(request.headers)
        return Context(
            settings=state.settings,
            sessions=state.sessions,
            id_hash_key=state.id_hash_key,
            principal=principal,
            unauthenticated_reason=reason,
            client_address=_address(request),
            response=response,
            prepaid=bool(getattr(request.state, PREPAID, False)),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Accept the connection only for a valid token (``{"Authorization": "Bearer …"}`` in
        connection_init's payload); anything else closes it with 4403 Forbidden."""
        params = context.connection_params or {}
        given = next(
            (v for k, v in params.items() if k.lower() == AUTHORIZATION and isinstance(v, str)),
            None,
        )
        credentials = dict(context.credentials)
        if given is not None:
            credentials = {AUTHORIZATION: given}
        assert context.authenticate is not None
        principal, reason = await context.authenticate(credentials)
        if principal is None:
            raise ConnectionRejectionError({"message": reason})
        context.credentials = credentials
        context.expires_at = _expiry(given)
        context.act_as(principal)
        return await super().on_ws_connect(context)


def _refusal(message: str, code: str, **details: object) -> ExecutionResult:
    return ExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": code, **details})]
    )


def _address(connection: Request | WebSocket) -> str | None:
    return connection.client.host if connection.client is not None else None


def _dev_credentials(websocket: WebSocket) -> dict[str, str]:
    """The development header, if the handshake carried one (honoured only with HUB_ENV=dev,
    as over HTTP)."""
    value = websocket.headers.get(MEMBER_HEADER)
    return {MEMBER_HEADER: value} if value else {}


def _expiry(authorization: str | None) -> float | None:
    """When the (already verified) access token expires, to end streams on time."""
    if authorization is None:
        return None
    _, _, token = authorization.partition(" ")
    try:
        exp = peek(token.strip()).claims.get("exp")
    except TokenRejected:
        return None
    return float(exp) if isinstance(exp, int | float) else time.time()
