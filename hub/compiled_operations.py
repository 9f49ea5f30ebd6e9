"""What the compiled operations (``hub.fast_path``'s needs page, ``hub.fast_claim``'s claim)
share: knowing their own document in a request, paying for it as the normal path would, and
writing ids as the normal path does."""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from typing import Any

from graphql import GraphQLSchema, parse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from hub.auth.principal import Principal
from hub.domain import rate_limits
from hub.domain.trusted_documents import sha256_of
from hub.graphql_app import PREPAID
from hub.protocol.errors import ProtocolError
from hub.protocol.persisted_queries import requested_hash
from hub.schema.limits import check_cost
from hub.settings import Settings


def _normalized(document: object) -> str | None:
    return " ".join(document.split()) if isinstance(document, str) else None


class CompiledDocument:
    """A document the hub answers without generic execution, known by its text (whitespace
    aside) or, as automatic persisted queries name it, by its hash alone: the hub knows these
    documents without being told."""

    def __init__(self, text: str, operation_name: str) -> None:
        self.text = text
        self.operation_name = operation_name
        self.sha256 = sha256_of(text)
        self._normalized = _normalized(text)

    def requested_text(self, payload: dict[str, Any]) -> str | None:
        """The request's text of this document (this text when asked by hash alone), or None
        if the request is for another."""
        found = requested(payload, (self,))
        return None if found is None else found[1]


def requested(
    payload: dict[str, Any], documents: Sequence[CompiledDocument]
) -> tuple[CompiledDocument, str] | None:
    """Which of ``documents`` the request is for, with the request's text of it (the
    document's own when asked by hash alone); None if none. The request's text is normalized,
    or its hash read, once however many documents there are. Anything doubtful (a hash that is
    not the text's, malformed extensions) is the normal path's to refuse."""
    extensions = payload.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    query = payload.get("query")
    if persisted is None:
        if not isinstance(query, str):
            return None
        normalized = _normalized(query)
        return next(((d, query) for d in documents if d._normalized == normalized), None)
    try:
        sha256 = requested_hash(persisted)
    except ProtocolError:
        return None
    document = next((d for d in documents if d.sha256 == sha256), None)
    if document is None:
        return None
    if query is None:
        return document, document.text
    return (document, query) if isinstance(query, str) and sha256_of(query) == sha256 else None


@functools.cache
def document_cost(schema: GraphQLSchema, settings: Settings, document: CompiledDocument) -> int:
    """The document's cost on the normal path. A compiled document sets its lists' sizes itself
    and its variables size nothing, so the cost is the same for every request: reckoned once
    per process."""
    return check_cost(
        schema,
        settings,
        document=parse(document.text),
        operation_name=document.operation_name,
        variables={},
    )


async def prepay(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    schema: GraphQLSchema,
    document: CompiledDocument,
) -> bool:
    """Charge the document's cost to the principal's rate limit, as the normal path would, and
    say whether it was admitted. Over the limit, the compiled operation leaves the request to
    the normal path, which refuses it alike; admitted, the request is marked paid, should the
    normal path answer it after all."""
    settings: Settings = request.app.state.settings
    key = rate_limits.principal_key(principal, request.client.host if request.client else None)
    cost = document_cost(schema, settings, document)
    # One statement: it commits by itself, before the operation reads or writes anything.
    admission = await rate_limits.spend(session, key, cost, settings.rate_limit_cost_per_minute)
    if admission.admitted:
        setattr(request.state, PREPAID, True)
    return admission.admitted


def global_id(type_name: str, key: object) -> str:
    """A node's ID, as the normal path (Strawberry's relay) writes it."""
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()
