"""A compiled path for the hub's busiest persisted operation: a provider's page of needs.

Generic GraphQL execution resolves every field of every object through the executor: a page of
50 needs with their child, region and claims is about a thousand resolver calls, and that, not
the database, is where a page's time goes. When a request carries exactly this document (the one
NGO apps send, ``NEEDS_PAGE``), the page is built here instead: the same domain calls the
resolvers and their loaders make (``needs.list_needs``, ``children.children_by_ids``,
``regions.regions_by_codes``, ``claims.claims_of_needs``, so every access rule and every tier
applies unchanged), then a plain dict, encoded once.

The page is charged to its reader's rate limit at the cost of the same document on the normal
path, before any of it is read; over the limit, the normal path answers (it refuses alike, and a
refusal spends nothing).

Anything unusual - no principal, an invalid cursor or variable, a child the reader may not see,
any error at all - falls back to the normal path, which then answers (and reports errors) as it
always does. Reads have no side effects, so answering twice is harmless. Tests compare the two
paths for every kind of reader.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from graphql import GraphQLSchema, parse
from starlette.requests import Request

from hub.domain import children, claims, needs, rate_limits, regions
from hub.domain.needs import NeedOrder, NeedView
from hub.domain.pagination import page_request
from hub.domain.trusted_documents import sha256_of
from hub.domain.visibility import claimant_memo
from hub.graphql_app import PREPAID
from hub.protocol.media import JSON, negotiate
from hub.schema.limits import check_cost
from hub.vocabulary import NeedStatus

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NEEDS_PAGE = """
query NeedsPage($county: String!, $after: String) {
  needs(filter: {jurisdiction: $county, statuses: [OPEN, CLAIMED, PARTIALLY_MET]},
        first: 50, after: $after) {
    edges { node {
      id category urgency status quantity unit dueDate createdAt
      child { code ageBand }
      region { code name }
      claims { status expiresAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
_STATUSES = (NeedStatus.OPEN, NeedStatus.CLAIMED, NeedStatus.PARTIALLY_MET)
_PAGE_SIZE = 50


def _normalized(document: object) -> str | None:
    return " ".join(document.split()) if isinstance(document, str) else None


_COMPILED = {_normalized(NEEDS_PAGE)}
# The compiled documents' hashes, as automatic persisted queries name them: a client sending the
# hash alone is answered here, since the hub knows these documents without being told.
_COMPILED_SHA256 = {sha256_of(NEEDS_PAGE)}


def _asks_compiled(payload: dict[str, Any]) -> bool:
    """Whether the request is for a compiled document, by its text or by its hash. Anything
    doubtful (a hash that is not the text's, malformed extensions) is the normal path's to
    refuse."""
    extensions = payload.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    query = payload.get("query")
    if persisted is None:
        return _normalized(query) in _COMPILED
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        return False
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or sha256.lower() not in _COMPILED_SHA256:
        return False
    return query is None or (isinstance(query, str) and sha256_of(query) == sha256.lower())


_NEEDS_PAGE_DOCUMENT = parse(NEEDS_PAGE)


class _Fallback(Exception):
    """The compiled path does not answer this request; the normal path will."""


class FastPath:
    """ASGI wrapper of the GraphQL endpoint: compiled operations here, all else passed on."""

    def __init__(self, app: ASGIApp, schema: GraphQLSchema) -> None:
        self.app = app
        self.schema = schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if not more:
            answer = await self._answer(scope, body)
            if answer is not None:
                await _send_json(send, answer)
                return
        await self.app(scope, _replay(body, more, receive), send)

    async def _answer(self, scope: Scope, body: bytes) -> bytes | None:
        headers = dict(scope.get("headers") or ())
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            return None
        if negotiate(headers.get(b"accept", b"").decode("latin-1")) != JSON:
            return None  # the normal path answers in the media type the client asked for
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict) or not _asks_compiled(payload):
            return None
        if payload.get("operationName") not in (None, "NeedsPage"):
            return None  # the normal path says there is no such operation
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            return None
        try:
            return orjson.dumps(await needs_page(Request(scope), variables, self.schema))
        except _Fallback:
            return None
        except Exception:  # the normal path will report it properly
            logger.debug("the compiled needs page fell back", exc_info=True)
            return None


async def needs_page(
    request: Request, variables: dict[str, Any], schema: GraphQLSchema
) -> dict[str, Any]:
    state: Any = request.app.state
    principal, _ = await state.authenticator.principal(request.headers)
    county, after = variables.get("county"), variables.get("after")
    if principal is None or not isinstance(county, str):
        raise _Fallback
    if principal.trusted_documents_only:
        raise _Fallback  # the normal path holds a restricted client to its trusted documents
    if after is not None and not isinstance(after, str):
        raise _Fallback
    settings = state.settings
    await _charge(request, principal, variables, schema)
    page = page_request(
        _PAGE_SIZE,
        after,
        kind=needs.cursor_kind(NeedOrder.URGENCY),
        arity=needs.cursor_arity(NeedOrder.URGENCY),
        default=settings.default_page_size,
        maximum=settings.max_page_size,
    )
    where = needs.NeedFilter(jurisdiction=county, statuses=_STATUSES, order=NeedOrder.URGENCY)
    # One session for the whole page: the loaders of the normal path open one per batch, and
    # each costs a pool checkout and a BEGIN/ROLLBACK round trip. The same domain functions
    # answer, so the same rules and tiers apply.
    # Reads only, so whom the reader claims is asked once for the page, not once per kind.
    with claimant_memo():
        async with state.sessions() as session:
            found = await needs.list_needs(session, principal, where, page)
            views: list[NeedView] = list(found.items)
            child_views = await children.children_by_ids(
                session, principal, [view.child_id for view in views]
            )
            region_views = await regions.regions_by_codes(
                session, [view.region_code for view in views]
            )
            claim_views = await claims.claims_of_needs(
                session, principal, [view.id for view in views]
            )
    found_children = [child_views.get(view.child_id) for view in views]
    found_regions = [region_views.get(view.region_code) for view in views]
    found_claims = [claim_views.get(view.id, []) for view in views]
    edges = []
    for view, child, region, need_claims in zip(
        views, found_children, found_regions, found_claims, strict=True
    ):
        if child is None or region is None:
            raise _Fallback  # the normal path answers with its error
        edges.append(
            {
                "node": {
                    "id": _global_id("Need", view.id),
                    "category": _enum(view.category),
                    "urgency": _enum(view.urgency),
                    "status": _enum(view.status),
                    "quantity": _scalar(view.quantity),
                    "unit": _enum(view.unit),
                    "dueDate": _scalar(view.due_date),
                    "createdAt": _scalar(view.created_at),
                    "child": {"code": child.code, "ageBand": child.age_band},
                    "region": {"code": region.code, "name": region.name},
                    "claims": [
                        {"status": _enum(claim.status), "expiresAt": _scalar(claim.expires_at)}
                        for claim in need_claims
                    ],
                }
            }
        )
    return {
        "data": {
            "needs": {
                "edges": edges,
                "pageInfo": {
                    "hasNextPage": found.has_next_page,
                    "endCursor": found.cursors[-1] if found.cursors else None,
                },
            }
        }
    }


async def _charge(
    request: Request, principal: Any, variables: dict[str, Any], schema: GraphQLSchema
) -> None:
    """Charge the page's cost, as the normal path would; over the limit, let it refuse."""
    settings = request.app.state.settings
    cost = check_cost(
        schema,
        settings,
        document=_NEEDS_PAGE_DOCUMENT,
        operation_name="NeedsPage",
        variables=variables,
    )
    key = rate_limits.principal_key(principal, request.client.host if request.client else None)
    async with request.app.state.sessions.begin() as session:
        admission = await rate_limits.spend(session, key, cost, settings.rate_limit_cost_per_minute)
    if not admission.admitted:
        raise _Fallback
    setattr(request.state, PREPAID, True)  # should the normal path answer after all


def _global_id(type_name: str, key: object) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


def _enum(value: Enum | None) -> str | None:
    # GraphQL enums carry the member's name, as Strawberry serializes them.
    return None if value is None else value.name


def _scalar(value: Decimal | date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    return value.isoformat()


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, unless it is larger than any compiled document's request would be."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > 64 * 1024:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


async def _send_json(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
