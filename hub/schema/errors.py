"""Every error leaves with a stable ``extensions.code``; unexpected ones are masked and logged.

Expected failures are ``DomainError``s and keep their message and code. Parse and validation
errors from the GraphQL layer are the client's fault and say so. A database that cannot be
reached now (down, refusing, lost mid-request) is ``DATABASE_UNAVAILABLE``, for the client to
retry. Anything else is an internal error. Both are masked: the client sees a generic message
and a request id, the log gets the traceback with the driver's message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from hub.db.availability import is_database_unavailable
from hub.domain.errors import DomainError
from hub.protocol.errors import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE

logger = logging.getLogger("hub.errors")

INTERNAL_MESSAGE = "Internal server error"


def classify(error: GraphQLError, request_id: str | None) -> GraphQLError:
    original = error.original_error
    extensions: dict[str, Any] = dict(error.extensions or {})
    if isinstance(original, DomainError):
        extensions["code"] = original.code
        extensions.update({k: v for k, v in original.details.items() if v is not None})
        return _with(error, original.message, extensions)
    if original is None or isinstance(original, GraphQLError):
        extensions.setdefault("code", _client_error_code(error.message))
        return _with(error, error.message, extensions)
    where = ".".join(str(p) for p in error.path or ()) or "operation"
    if is_database_unavailable(original):
        logger.warning(
            "the database is unavailable in %s (request %s)", where, request_id, exc_info=original
        )
        return _with(
            error,
            DATABASE_UNAVAILABLE_MESSAGE,
            {"code": DATABASE_UNAVAILABLE, "requestId": request_id},
        )
    logger.error("internal error in %s (request %s)", where, request_id, exc_info=original)
    return _with(
        error, INTERNAL_MESSAGE, {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    )


# The operation limits' refusals (hub/schema/limits.py), as graphql-core and Strawberry word them.
_LIMIT_CODES = (
    (re.compile(r"^Syntax Error: Source contains more than \d+ code points"), "DOCUMENT_TOO_LARGE"),
    (re.compile(r"^Syntax Error: Document contains more than \d+ tokens"), "TOO_MANY_TOKENS"),
    (re.compile(r"^'.*' exceeds maximum operation depth of \d+$"), "QUERY_TOO_DEEP"),
    (re.compile(r"^\d+ aliases found\. Allowed: \d+$"), "TOO_MANY_ALIASES"),
)


def _client_error_code(message: str) -> str:
    for pattern, code in _LIMIT_CODES:
        if pattern.match(message):
            return code
    # graphql-core words these consistently; the codes are the ones Apollo clients know.
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def classify_escaped(result: Any, request_id: str | None) -> None:
    """Classify the errors of a result the extension never saw: an exception raised in another
    extension's hook (the rate-limit charge reaching a lost database, say) ends the operation
    before ``ErrorCodes`` runs, and Strawberry would send its message raw, without a code.
    Errors already classified keep their code."""
    errors = getattr(result, "errors", None)
    if errors and any(error.original_error is not None for error in errors):
        result.errors = [classify(error, request_id) for error in errors]


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        self._classify(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result a subscription sends, including the error that ends it."""
        self._classify(result)
        yield

    def _classify(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        result.errors = [classify(error, request_id) for error in errors]
