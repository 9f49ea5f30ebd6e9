"""The /graphql endpoint: Strawberry's ASGI app with the hub's request context.

Queries and mutations come over HTTP; subscriptions over a WebSocket speaking
graphql-transport-ws, whose client authenticates in ``connection_init`` with the same Bearer
access token an HTTP request would carry.

Over HTTP the hub follows the GraphQL-over-HTTP specification (``hub.protocol``): the response's
media type is negotiated, request errors get 4xx under ``application/graphql-response+json``,
a mutation over GET is 405, batching is off, and every refusal is a JSON error with a stable
``extensions.code``. Documents may come by hash (automatic persisted queries), and a client
restricted to trusted documents runs nothing else, over HTTP and WebSocket alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, get_operation_ast, parse
from graphql.language import OperationType as OperationKind
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from hub.auth.dev import MEMBER_HEADER
from hub.auth.principal import Principal
from hub.auth.tokens import TokenRejected, peek
from hub.db.availability import is_database_unavailable
from hub.domain.trusted_documents import OperationNotTrusted, check_trusted
from hub.protocol import errors as protocol_errors
from hub.protocol import request_parameters
from hub.protocol.errors import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    ProtocolError,
    code_for_status,
)
from hub.protocol.media import GRAPHQL_RESPONSE, JSON, body_media_type, negotiate
from hub.protocol.persisted_queries import PersistedQueries
from hub.resolvers.context import Context
from hub.schema.errors import classify_escaped
from hub.settings import Settings
from hub.websocket_limits import CLOSE_CODE, ConnectionLimit, TooManyConnections

logger = logging.getLogger(__name__)

AUTHORIZATION = "authorization"
# WebSocket close codes (RFC 6455, IANA registry): retry later; the server failed.
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011
# Set on a request's state by the compiled path once it has charged the request's cost, so that
# the normal path, should it answer after all, does not charge it twice.
PREPAID = "hub_prepaid"
NO_QUERY = "No GraphQL query found in the request"
SUBSCRIPTION_NEEDS_WEBSOCKET = "SUBSCRIPTION_NEEDS_WEBSOCKET"


# Request errors under application/graphql-response+json: 4xx by code, 400 for the rest.
_REQUEST_ERROR_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "INTROSPECTION_DISABLED": 403,
    "OPERATION_NOT_TRUSTED": 403,
    "DOCUMENT_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    "INTERNAL_SERVER_ERROR": 500,
    DATABASE_UNAVAILABLE: 503,
}


class HubTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with a restricted client held to its trusted documents, and
    queries and mutations held to the request timeout as over HTTP (subscriptions run on);
    a principal's connections beyond its limit closed with a reason."""

    async def send_message(self, message: Message) -> None:
        await super().send_message(message)
        if message["type"] != "next" or not message["payload"].get("errors"):
            return
        operation = self.operations.get(message["id"])
        if operation is None or not _is_subscription(operation.query, operation.operation_name):
            return
        # An event whose fields failed (its need could not be read: the database went away
        # mid-read) never reaches the client, and graphql-core would go on with the next:
        # the stream ends at the error instead, so that the client resumes from its last
        # cursor rather than go on past a hole. (An error the stream ended with anyway is
        # completed here a moment earlier.)
        await operation.send_operation_message({"id": operation.id, "type": "complete"})
        if operation.task is not None:
            operation.task.cancel()

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self.context.release_connection is not None:
                self.context.release_connection()

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """The credentials are checked within the request timeout, and a failure to check
        them closes the connection with a code that says whether to retry: the principal's
        connections beyond its limit with 1008 (``TOO_MANY_CONNECTIONS``), 1013 (try again
        later, with the reason ``TIMEOUT`` or ``DATABASE_UNAVAILABLE``), 1011 (internal
        error) otherwise. The driver's message goes to the log only."""
        request_id = self.context.request_id
        limit = asyncio.timeout(self.context.settings.request_timeout_seconds)
        try:
            async with limit:
                await super().handle_connection_init(message)
        except TooManyConnections as refused:
            await self.websocket.close(code=CLOSE_CODE, reason=str(refused))
        except Exception as exc:
            if limit.expired():
                logger.warning("connection_init ran past the timeout (request %s)", request_id)
                await self.websocket.close(code=TRY_AGAIN_LATER, reason="TIMEOUT")
                return
            if is_database_unavailable(exc):
                logger.warning(
                    "the database is unavailable at connection_init (request %s)",
                    request_id,
                    exc_info=exc,
                )
                await self.websocket.close(code=TRY_AGAIN_LATER, reason=DATABASE_UNAVAILABLE)
                return
            logger.error("internal error at connection_init (request %s)", request_id, exc_info=exc)
            await self.websocket.close(code=INTERNAL_ERROR, reason="INTERNAL_SERVER_ERROR")

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        seconds = self.context.settings.request_timeout_seconds
        limit = asyncio.timeout(seconds)
        try:
            async with limit:
                try:
                    await _check_trusted(self.context, operation.query)
                except OperationNotTrusted as exc:
                    error = GraphQLError(exc.message, extensions={"code": exc.code})
                    await operation.send_initial_errors([error])
                    return
                if _is_subscription(operation.query, operation.operation_name):
                    limit.reschedule(None)  # a stream runs on: only its check was bounded
                await super().run_operation(operation)
        except TimeoutError:
            if not limit.expired():
                raise
            await operation.send_initial_errors(
                [timeout_error(seconds)]  # its transaction was rolled back
            )


class HubGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = HubTransportWSHandler

    def __init__(self, *args: Any, settings: Settings | None = None, **kwargs: Any) -> None:
        settings = settings or Settings()
        kwargs.setdefault("subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        # A socket that never says connection_init is closed (4408) rather than held open.
        kwargs.setdefault(
            "connection_init_wait_timeout",
            timedelta(seconds=settings.websocket_init_timeout_seconds),
        )
        super().__init__(*args, **kwargs)
        self.connections = ConnectionLimit(settings.max_websockets_per_principal)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = self._refusal(request, exc)
        await response(scope, receive, send)

    def _refusal(self, request: Request, exc: HTTPException) -> Response:
        """A request refused before execution: JSON errors with a code, never plain text."""
        media = negotiate(request.headers.get("accept")) or JSON
        if isinstance(exc, ProtocolError):
            code, headers = exc.code, exc.headers
            status = exc.status_code if media == GRAPHQL_RESPONSE else exc.json_status
        else:
            code, headers, status = code_for_status(exc.status_code), {}, exc.status_code
            if status == 405:  # Strawberry's refusal of any method but GET and POST (HEAD)
                headers = {"Allow": "GET, POST"}
        body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
        return Response(self.encode_json(body), status, headers, media_type=media)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # Only for a browser asking for a page: a GET that carries a persisted query's hash has
        # no query parameter either, and API clients often accept */*.
        return (
            request.method == "GET"
            and request.query_params.get("query") is None
            and request.query_params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiate(request.headers.get("accept")) or JSON
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type and sub_response.media_type != JSON:
            response.headers["content-type"] = sub_response.media_type
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if negotiate(request.headers.get("accept")) is None:
            raise ProtocolError(
                406, "NOT_ACCEPTABLE", f"the hub answers in {GRAPHQL_RESPONSE} or {JSON}"
            )
        if request.method == "GET":
            return request_parameters.from_query_string(urlsplit(request.url).query)
        if body_media_type(request.content_type) != JSON:
            raise ProtocolError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"send the request as {JSON}",
                headers={"Accept-Post": JSON},
            )
        return request_parameters.from_body(await request.get_body())

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        state: Any = request.app.state
        method = request_adapter.method
        strict = sub_response.media_type == GRAPHQL_RESPONSE
        if strict and context.principal is None and request.headers.get(AUTHORIZATION):
            # Credentials that do not hold: refused before anything runs.
            raise ProtocolError(
                401,
                "UNAUTHENTICATED",
                context.unauthenticated_reason,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        persisted: PersistedQueries = state.persisted_queries
        resolved = await persisted.resolve(
            request_data.query,
            request_data.extensions,
            max_length=context.settings.max_document_length,
        )
        if resolved.query is None:
            raise ProtocolError(400, "BAD_REQUEST", NO_QUERY)
        try:
            await _check_trusted(context, resolved.query)
        except OperationNotTrusted as exc:
            raise ProtocolError(403, exc.code, exc.message, json_status=200) from exc
        try:
            result = await self.schema.execute(
                resolved.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                # Subscriptions stream over the WebSocket only.
                allowed_operation_types=OperationType.from_http(method)
                - {OperationType.SUBSCRIPTION},
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise ProtocolError(
                    400,
                    SUBSCRIPTION_NEEDS_WEBSOCKET,
                    "subscriptions run over a WebSocket to /graphql (graphql-transport-ws)",
                ) from exc
            if method == "GET" and exc.operation_type is OperationType.MUTATION:
                raise ProtocolError(
                    405, "METHOD_NOT_ALLOWED", "send mutations with POST", headers={"Allow": "POST"}
                ) from exc
            raise ProtocolError(400, "BAD_REQUEST", exc.as_http_error_reason(method)) from exc
        except CannotGetOperationTypeError as exc:
            raise ProtocolError(
                400, "OPERATION_RESOLUTION_FAILURE", exc.as_http_error_reason(), json_status=200
            ) from exc
        except MissingQueryError as exc:
            raise ProtocolError(
                400, "BAD_REQUEST", "No GraphQL query found in the request"
            ) from exc
        classify_escaped(result, context.request_id)
        if resolved.register and context.principal and not isinstance(result, PreExecutionError):
            await persisted.keep(resolved.register, resolved.query)
        if strict and _is_request_error(result):
            request.state.request_error = True
            sub_response.status_code = _request_error_status(result)
        if _database_unavailable(result):
            # Whatever data came with it, the client should retry the whole operation.
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if getattr(request.state, "request_error", False):
            # A request error has no data entry at all, as the specification asks.
            response.pop("data", None)
        return response

    def encode_json(self, data: object) -> str:
        # orjson writes UTF-8 directly (Chinese text unescaped) and several times faster than
        # the standard library; results hold only JSON types by now. Text, not bytes, because
        # the same encoder feeds WebSocket messages, which graphql-transport-ws sends as text.
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            # A message echoing the client's text (an unknown operation's name) may hold a lone
            # surrogate, which orjson refuses: the standard library escapes it (\ud800).
            return json.dumps(data, ensure_ascii=True)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state: Any = request.app.state
        if isinstance(request, WebSocket):
            # Authenticated at connection_init (on_ws_connect), not at the handshake.
            return Context(
                settings=state.settings,
                sessions=state.sessions,
                autocommit_sessions=state.autocommit_sessions,
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
            autocommit_sessions=state.autocommit_sessions,
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
        context.release_connection = self.connections.admit(principal)
        context.credentials = credentials
        context.expires_at = _expiry(given)
        context.act_as(principal)
        return await super().on_ws_connect(context)


def timeout_error(seconds: float) -> GraphQLError:
    error = protocol_errors.timeout_error(seconds)
    return GraphQLError(error["message"], extensions=error["extensions"])


def _is_subscription(document: str, operation_name: str | None) -> bool:
    """Whether the operation to run is a subscription; a document that does not parse is not
    (it fails at once, with its syntax error)."""
    try:
        operation = get_operation_ast(parse(document), operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation is OperationKind.SUBSCRIPTION


def _address(connection: Request | WebSocket) -> str | None:
    return connection.client.host if connection.client is not None else None


async def _check_trusted(context: Context, document: str | None) -> None:
    principal: Principal | None = context.principal
    if principal is None or not principal.trusted_documents_only:
        return
    async with context.sessions() as session:
        await check_trusted(session, principal, document)


def _is_request_error(result: ExecutionResult) -> bool:
    """Nothing was executed: no data, and no error belongs to a field."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


def _database_unavailable(result: ExecutionResult) -> bool:
    return any(
        (error.extensions or {}).get("code") == DATABASE_UNAVAILABLE
        for error in result.errors or ()
    )


def _request_error_status(result: ExecutionResult) -> int:
    codes = [(error.extensions or {}).get("code") for error in result.errors or ()]
    return max((_REQUEST_ERROR_STATUS.get(str(code), 400) for code in codes), default=400)


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
