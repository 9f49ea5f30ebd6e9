"""A compiled path for the storm's persisted mutation: a provider claiming a need.

When a request carries exactly the document claiming apps send (``CLAIM_NEED``, by its text or
its sha256 hash), the claim is made here instead of through generic GraphQL execution: the same
domain function (``claims.claim_need``) with the same principal, the same rate-limit charge
(the document's cost, as the normal path computes it) and the same rules, then the JSON the
normal path gives for the document's selection, built from the outcome directly.

A mutation must never run twice, so where the normal path may still answer is decided before
anything is written:

- before the claim's transaction starts (no principal, a client restricted to trusted
  documents, variables of the wrong types, a malformed ID, over the rate limit: nothing was
  written but the charge, and the normal path answers without charging the request again);
- or when something unexpected fails inside the transaction, before its COMMIT was sent: it
  rolled back, so nothing was written either.

From the moment the transaction is asked to commit, this path answers whatever happens: every
outcome of the claim (``ClaimNeedSuccess``, ``AlreadyClaimed``, ``OverPledged``), every domain
refusal (which rolled back: the same error the normal path gives, with its code, location and
path), and a failed commit (an internal error, as the normal path would say, or
``DATABASE_UNAVAILABLE`` with status 503 when the database was lost). The request's deadline
(``TIMEOUT``, status 504) is ``hub.request_guard``'s, as on the normal path.

A database that cannot be reached before the commit is not left to the normal path, which
could not reach it either: the request guard answers 503 ``DATABASE_UNAVAILABLE``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from graphql import FieldNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, parse
from starlette.requests import Request

from hub.compiled_operations import CompiledDocument, global_id, prepay
from hub.db.availability import is_database_unavailable
from hub.domain import claims
from hub.domain.errors import DomainError
from hub.domain.rules import CoordinationRules
from hub.protocol.errors import DATABASE_UNAVAILABLE
from hub.schema.errors import classify
from hub.schema.ids import uuid_of

logger = logging.getLogger(__name__)

CLAIM_NEED = """
mutation ClaimNeed($need: ID!, $key: String!) {
  claimNeed(input: {needId: $need}, idempotencyKey: $key) {
    __typename
    ... on ClaimNeedSuccess { claim { id status expiresAt } }
    ... on AlreadyClaimed { until }
  }
}
"""
DOCUMENT = CompiledDocument(CLAIM_NEED, "ClaimNeed")
_FIELD = "claimNeed"
_VARIABLES = frozenset({"need", "key"})


@lru_cache(maxsize=8)
def _parsed(document: str) -> tuple[Any, FieldNode]:
    """The parsed document and its ``claimNeed`` field, where the normal path's errors point."""
    parsed = parse(document)
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return parsed, field


class _Fallback(Exception):
    """Nothing was written: the normal path answers this request."""


async def answer(
    request: Request, payload: dict[str, Any], document: str, schema: GraphQLSchema
) -> tuple[int, bytes] | None:
    """The response's status and body, or None for the normal path to answer (only ever when
    nothing was written)."""
    try:
        return await _answer(request, payload, document, schema)
    except _Fallback:
        return None
    except Exception as exc:  # raised before the claim's transaction was asked to commit
        if is_database_unavailable(exc):
            raise  # nothing was written, and the normal path could not reach it either
        logger.debug("the compiled claim fell back", exc_info=True)
        return None


async def _answer(
    request: Request, payload: dict[str, Any], document: str, schema: GraphQLSchema
) -> tuple[int, bytes]:
    if payload.get("operationName") not in (None, DOCUMENT.operation_name):
        raise _Fallback  # the normal path says there is no such operation
    variables = payload.get("variables")
    if not isinstance(variables, dict) or variables.keys() != _VARIABLES:
        raise _Fallback
    need, key = variables["need"], variables["key"]
    if not isinstance(need, str) or not isinstance(key, str):
        raise _Fallback  # the normal path coerces or refuses them
    try:
        need_id = uuid_of(need, "Need", field="needId")
    except DomainError as exc:
        raise _Fallback from exc  # refused by the resolver before anything is written
    state: Any = request.app.state
    # Who asks and the charge: one statement each, in one session without a transaction (as
    # the compiled page reads them); the claim then has its own transaction. The request's
    # deadline (``hub.request_guard``) bounds all of it, as it does the normal path.
    async with state.autocommit_sessions() as session:
        principal, _ = await state.authenticator.principal(request.headers, session=session)
        if principal is None or principal.trusted_documents_only:
            raise _Fallback  # the normal path refuses, or holds the client to its documents
        if not await prepay(session, request, principal, schema, DOCUMENT):
            raise _Fallback  # over the limit: the normal path refuses alike
    body = await _claim(request, principal, need_id, key, _parsed(document)[1])
    return (503 if _database_unavailable(body) else 200), orjson.dumps(body)


def _database_unavailable(body: dict[str, Any]) -> bool:
    """A commit whose fate the lost database leaves unknown: the client retries with the same
    idempotency key, which answers the first claim's outcome if it was made."""
    return any(
        error["extensions"].get("code") == DATABASE_UNAVAILABLE for error in body.get("errors", ())
    )


async def _claim(
    request: Request, principal: Any, need_id: uuid.UUID, key: str, field: FieldNode
) -> dict[str, Any]:
    state: Any = request.app.state
    rules = CoordinationRules.from_settings(state.settings)
    committing = False
    try:
        async with state.sessions.begin() as session:
            outcome = await claims.claim_need(
                session,
                principal,
                claims.ClaimRequest(need_id=need_id),
                idempotency_key=key,
                rules=rules,
                warnings=False,  # not in the document's selection
            )
            body = {"data": {_FIELD: _selection(outcome)}}
            # Leaving the block commits: from here on, whatever happens is answered here.
            committing = True
    except DomainError as refusal:
        # Raised inside the block, it rolled the transaction back: nothing was written.
        return _error(refusal, field, refusal)
    except Exception as exc:
        if not committing:
            if is_database_unavailable(exc):
                raise  # rolled back, and the normal path could not reach the database either
            raise _Fallback from exc  # rolled back: the normal path may answer
        # The commit failed, or its fate is unknown: never run the claim again.
        return _error(exc, field, None)
    return body


def _error(exc: Exception, field: FieldNode, refusal: DomainError | None) -> dict[str, Any]:
    """The normal path's answer for an error of the ``claimNeed`` field: no data, the error
    with its location, path and code (``hub.schema.errors``)."""
    error = classify(
        GraphQLError(str(exc), nodes=[field], path=[_FIELD], original_error=refusal or exc),
        uuid.uuid4().hex,
    )
    return {"data": None, "errors": [error.formatted]}


def _selection(outcome: claims.ClaimOutcome) -> dict[str, Any]:
    """The document's selection of the outcome, as the normal path serializes it."""
    if isinstance(outcome, claims.Claimed):
        view = outcome.claim
        return {
            "__typename": "ClaimNeedSuccess",
            "claim": {
                "id": global_id("Claim", view.id),
                "status": view.status.name,
                "expiresAt": view.expires_at.isoformat(),
            },
        }
    if isinstance(outcome, claims.AlreadyClaimed):
        return {"__typename": "AlreadyClaimed", "until": _instant(outcome.until)}
    return {"__typename": "OverPledged"}


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
