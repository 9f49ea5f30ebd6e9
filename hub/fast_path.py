"""A compiled path for the hub's busiest persisted operation: a provider's page of needs.

Generic GraphQL execution resolves every field of every object through the executor: a page of
50 needs with their child, region and claims is about a thousand resolver calls, and that, not
the database, is where a page's time goes. When a request carries exactly this document (the one
NGO apps send, ``NEEDS_PAGE``), the page is built here instead, from plain rows of only the
columns it serves, read through the statements and rules of the domain functions the resolvers
and their loaders call: ``needs.page_query`` (``list_needs``), ``children.readable``
(``children_by_ids``), ``claims.on_needs`` (``claims_of_needs``), ``visibility.claimed_by``
(``actively_claimed``), ``tier_for`` and ``visible_region`` for the tier. So every access rule
and every tier applies unchanged, without building ORM entities and views (which cost more CPU
than the database spent on the page); then a plain dict, encoded once. The document asks for no
text of a need or a claim, so what per-need disclosure (``hub.domain.disclosure``) decides shows
nowhere on it; whether the reader claims each child, which decides the region each need shows,
is asked of the readers ``disclosure.holdings`` would ask it of (who may claim, and are no
officials of the county).

Who asks, the charge and the page are read in one pool checkout without a transaction, in four
statements: the principal, the rate limit, the page (its needs with their children, whether the
reader claims each child, and the names of the regions each may show), and the claims. The
page's two statements are built and compiled once per reader and county, and executed with the
page's cursor and ids as parameters on the session's asyncpg connection directly
(``hub.db.raw``): SQLAlchemy's work on each execution cost as much CPU as asyncpg's. The page
statement's other values (the county, the reader's reach and provider, the urgency a cursor
starts from) are written into its text, so that PostgreSQL keeps its plan on each connection
(``_compiled_page``): planned at every execution, it cost as much database CPU as running it.

The page is charged to its reader's rate limit at the cost of the same document on the normal
path, before any of it is read; over the limit, the normal path answers (it refuses alike, and a
refusal spends nothing).

Anything unusual - no principal, an invalid cursor or variable, a child the reader may not see,
any error but a database that cannot be reached (``hub.request_guard`` answers that one) - falls
back to the normal path, which then answers (and reports errors) as it always does. Reads have
no side effects, so answering twice is harmless. Tests compare the two paths for every kind of
reader.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from graphql import GraphQLSchema
from sqlalchemy import Select, and_, false, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from starlette.requests import Request

from hub import fast_claim
from hub.auth.principal import Principal
from hub.compiled_operations import CompiledDocument, global_id, prepay, requested
from hub.db.availability import is_database_unavailable
from hub.db.lost_connections import discarded_when_lost
from hub.db.models import Child, Claim, Need, Region
from hub.db.raw import RawStatement
from hub.domain import children, claims, clock, ledger, needs
from hub.domain.disclosure import rules as disclosure
from hub.domain.jurisdiction import COUNTY_CODE_LENGTH
from hub.domain.needs import NeedOrder
from hub.domain.pagination import PageRequest, encode_cursor, page_request
from hub.domain.visibility import (
    Tier,
    age_band,
    claimed_by,
    tier_for,
    visible_region,
)
from hub.protocol.errors import RETRY_AFTER_SECONDS
from hub.protocol.media import JSON, body_media_type, negotiate
from hub.schema.text_input import unstorable_variable
from hub.vocabulary import NeedStatus, Urgency

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
_ORDER = NeedOrder.URGENCY  # the document's: no orderBy
_PAGE_SIZE = 50


_DOCUMENT = CompiledDocument(NEEDS_PAGE, "NeedsPage")


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
            answer, body = await self._answer(scope, body)
            if answer is not None:
                status, content = answer if isinstance(answer, tuple) else (200, answer)
                await _send_json(send, content, status)
                return
        await self.app(scope, _replay(body, more, receive), send)

    async def _answer(
        self, scope: Scope, body: bytes
    ) -> tuple[tuple[int, bytes] | bytes | None, bytes]:
        """The compiled answer, or None; and the body the normal path is to read otherwise.

        That is the request's own body, except for a compiled document asked by its hash alone:
        the hub knows its compiled documents by hash, the normal path only those it was sent,
        so it gets the document's text too, as the client would send it once told the hash is
        unknown. Without it, a request the compiled path leaves to the normal path (a
        restricted client, one over its rate limit) was refused as an unknown document."""
        headers = dict(scope.get("headers") or ())
        # The media type as the normal path reads it: application/json-seq is not JSON (415).
        if body_media_type(headers.get(b"content-type", b"").decode("latin-1")) != JSON:
            return None, body
        if negotiate(headers.get(b"accept", b"").decode("latin-1")) != JSON:
            return None, body  # the normal path answers in the media type the client asked for
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None, body
        if not isinstance(payload, dict):
            return None, body
        found = requested(payload, (fast_claim.DOCUMENT, _DOCUMENT))
        if found is None:
            return None, body
        document, text = found
        if payload.get("query") is None:
            body = orjson.dumps({**payload, "query": text})
        return await self._compiled(scope, payload, document, text), body

    async def _compiled(
        self, scope: Scope, payload: dict[str, Any], document: CompiledDocument, text: str
    ) -> tuple[int, bytes] | bytes | None:
        if unstorable_variable(payload.get("variables")) is not None:
            return None  # refused by the normal path before it charges anything
        if document is fast_claim.DOCUMENT:  # the storm's mutation: see ``hub.fast_claim``
            return await fast_claim.answer(Request(scope), payload, text, self.schema)
        if payload.get("operationName") not in (None, _DOCUMENT.operation_name):
            return None  # the normal path says there is no such operation
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            return None
        try:
            return orjson.dumps(await needs_page(Request(scope), variables, self.schema))
        except _Fallback:
            return None
        except Exception as exc:  # the normal path will report it properly
            if is_database_unavailable(exc):
                raise  # the normal path could not reach it either: the request guard answers
            logger.debug("the compiled needs page fell back", exc_info=True)
            return None


async def needs_page(
    request: Request, variables: dict[str, Any], schema: GraphQLSchema
) -> dict[str, Any]:
    state: Any = request.app.state
    county, after = variables.get("county"), variables.get("after")
    if not isinstance(county, str) or (after is not None and not isinstance(after, str)):
        raise _Fallback
    # One session for the whole page, without a transaction: who asks, the charge (one
    # statement each) and the page's reads (each with its own snapshot, as under READ
    # COMMITTED in a transaction) cost one pool checkout and no BEGIN or ROLLBACK. The normal
    # path takes a session per step and per loader batch.
    async with state.autocommit_sessions() as session:
        principal, _ = await state.authenticator.principal(request.headers, session=session)
        if principal is None:
            raise _Fallback
        if principal.trusted_documents_only:
            raise _Fallback  # the normal path holds a restricted client to its trusted documents
        if not await prepay(session, request, principal, schema, _DOCUMENT):
            raise _Fallback  # over the limit: the normal path refuses alike
        return _answer_page(await _read(session, state.settings, principal, county, after))


async def _read(
    session: AsyncSession, settings: Any, principal: Principal, county: str, after: str | None
) -> _PageRows:
    page = page_request(
        _PAGE_SIZE,
        after,
        kind=needs.cursor_kind(_ORDER),
        arity=needs.cursor_arity(_ORDER),
        default=settings.default_page_size,
        maximum=settings.max_page_size,
    )
    return await _read_page(session, principal, county, page)


def _answer_page(read: _PageRows) -> dict[str, Any]:
    today = clock.today()
    claims_of: dict[Any, list[dict[str, str | None]]] = {row.id: [] for row in read.rows}
    for claim in read.claim_rows:
        claims_of[claim.need_id].append(
            {
                "status": claims.seen_status(claim.status, claim.expired).name,
                "expiresAt": _scalar(claim.expires_at),
            }
        )
    edges = []
    for row, (region_code, region_name) in zip(read.rows, read.shown_regions, strict=True):
        if row.child_code is None or region_name is None:
            raise _Fallback  # a child the reader may not see: the normal path answers its error
        edges.append(
            {
                "node": {
                    "id": global_id("Need", row.id),
                    "category": _enum(row.category),
                    "urgency": _enum(row.urgency),
                    "status": _enum(row.status),
                    "quantity": _scalar(row.quantity),
                    "unit": _enum(row.unit),
                    "dueDate": _scalar(row.due_date),
                    "createdAt": _scalar(row.created_at),
                    "child": {"code": row.child_code, "ageBand": age_band(row.birth_date, today)},
                    "region": {"code": region_code, "name": region_name},
                    "claims": claims_of[row.id],
                }
            }
        )
    return {
        "data": {
            "needs": {
                "edges": edges,
                "pageInfo": {
                    "hasNextPage": read.has_next_page,
                    "endCursor": read.end_cursor,
                },
            }
        }
    }


# What the page serves of each need and its child, and of each claim: plain rows, not ORM
# entities and views (building those cost more CPU than the database spent on the page).
_NEED_COLUMNS = (
    Need.id,
    Need.child_id,
    Need.region_code,
    Need.category,
    Need.urgency,
    Need.status,
    Need.quantity,
    Need.unit,
    Need.due_date,
    Need.created_at,
    Child.code.label("child_code"),
    Child.birth_date,
)
# The two regions a need may show (``visible_region``): its own, and its county.
_NEED_REGION = aliased(Region, name="need_region")
_COUNTY = aliased(Region, name="county")


@dataclass(frozen=True)
class _PageRows:
    rows: Sequence[Any]  # of _NEED_COLUMNS
    has_next_page: bool
    end_cursor: str | None
    shown_regions: list[tuple[str, str | None]]  # each need's code and name, as its tier shows
    claim_rows: Sequence[Any]  # need_id, status, expires_at, expired


async def _read_page(
    session: AsyncSession, principal: Principal, county: str, page: PageRequest
) -> _PageRows:
    """The page's needs with their children, whom the reader claims, the regions shown and the
    claims, each read through the rules of the domain's own functions: the page with its
    children, claimant check and regions in one statement, then the claims."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    dialect = connection.dialect
    if page.after is None:
        leading, cursor = None, {}
    else:
        leading, *rest = needs.cursor_values(_ORDER, page.after)
        cursor = dict(zip(_AFTER_LEADING, rest, strict=True))
    async with discarded_when_lost(connection, driver):  # past SQLAlchemy: see there
        found = await _compiled_page(principal, county, leading, dialect).fetch_on(driver, cursor)
    # As ``make_page`` reads it (the extra row only says there is more), but only the cursor
    # the page serves, its last, is encoded.
    rows = found[: page.first]
    end_cursor = (
        encode_cursor(needs.cursor_kind(_ORDER), needs.cursor_key(_ORDER, rows[-1]))
        if rows
        else None
    )
    shown_regions = _shown_regions(principal, rows)
    async with discarded_when_lost(connection, driver):
        claim_rows = await _compiled_claims(principal, dialect).fetch_on(
            driver, {"need_ids": [row.id for row in rows]}
        )
    return _PageRows(rows, len(found) > page.first, end_cursor, shown_regions, claim_rows)


# The page's statements depend on the reader (its reach, its provider) and on the county, not
# on the page: each is built and compiled once per reader and county (and the engine's
# dialect) and executed with the page's cursor and ids as parameters. Building them afresh,
# rules and all, cost more CPU than PostgreSQL spent running them. A principal compares by its
# grants, scopes and provider, so a revoked role makes a new key, never a stale hit.
_STATEMENTS_CACHED = 1024
# The names of the cursor's parameters: its leading one (the urgency, written into the page
# statement's text) and those after it (its time and id, left as parameters).
_LEADING, *_AFTER_LEADING = needs.cursor_parameters(_ORDER)


@functools.lru_cache(maxsize=_STATEMENTS_CACHED)
def _compiled_page(
    principal: Principal, county: str, leading: Urgency | None, dialect: Dialect
) -> RawStatement:
    """The page statement for the first page (``leading`` None) or for a page after a cursor
    whose leading value, its urgency, is ``leading``: that value is written into the text with
    the others, and only the cursor's time and id stay parameters. Knowing the urgency,
    PostgreSQL estimates the statement's plan for any time and id as it does for given ones,
    and keeps it; with the urgency a parameter too, it guessed that a third of the county's
    needs lie past the cursor, found that plan dearer than one for the given values (the same
    plan), and planned every page afresh."""
    statement = _page_statement(principal, county, leading is not None)
    if leading is None:
        return RawStatement.compile(statement, dialect, inline=True)
    written_in = statement.params({_LEADING: leading})
    return RawStatement.compile(written_in, dialect, _AFTER_LEADING, inline=True)


@functools.lru_cache(maxsize=_STATEMENTS_CACHED)
def _compiled_claims(principal: Principal, dialect: Dialect) -> RawStatement:
    return RawStatement.compile(_claims_statement(principal), dialect, ("need_ids",))


def _page_statement(principal: Principal, county: str, after_a_cursor: bool) -> Select[Any]:
    """``list_needs``'s statement, with for each need:

    - its child, joined by ``children_by_ids``'s rule (a child outside the reader's reach comes
      back without its columns: the page falls back);
    - whether the reader's provider actively claims the child, by ``actively_claimed``'s
      condition; asked only of a reader who may claim and may not see the county's case
      detail anyway, as ``actively_claimed`` does;
    - the names of the two regions it may show, its own and its county's."""
    where = needs.NeedFilter(jurisdiction=county, statuses=_STATUSES, order=_ORDER)
    cursor = tuple(needs.cursor_parameters(_ORDER)) if after_a_cursor else None
    page = PageRequest(first=_PAGE_SIZE, after=cursor)
    asks_claimant = disclosure.may_hold(principal) and not disclosure.is_official(principal, county)
    claimant = claimed_by(principal.provider_id, Need.child_id) if asks_claimant else false()
    return (
        needs.page_query(
            principal,
            where,
            page,
            *_NEED_COLUMNS,
            claimant.label("claimed_by_reader"),
            _NEED_REGION.name.label("region_name"),
            _COUNTY.name.label("county_name"),
            cursor_as_parameters=True,
        )
        .outerjoin(Child, and_(Child.id == Need.child_id, children.readable(principal)))
        .outerjoin(_NEED_REGION, _NEED_REGION.code == Need.region_code)
        .outerjoin(_COUNTY, _COUNTY.code == func.left(Need.region_code, COUNTY_CODE_LENGTH))
    )


def _claims_statement(principal: Principal) -> Select[Any, Any, Any, Any]:
    """``claims_of_needs``'s statement, for the columns the page serves."""
    columns: Select[Any, Any, Any, Any] = select(
        Claim.need_id, Claim.status, Claim.expires_at, ledger.overdue().label("expired")
    ).join(Need, Need.id == Claim.need_id)
    return claims.on_needs(columns, principal, "need_ids")


def _shown_regions(principal: Principal, rows: Sequence[Any]) -> list[tuple[str, str | None]]:
    """The region each need shows, code and name, as ``needs.view_of`` decides it: its village
    for those who may see case detail (officials, the claimant), else its county. A page's
    needs share a few regions: each (region, claimant) tier is decided once."""
    tiers: dict[tuple[str, bool], Tier] = {}
    shown: list[tuple[str, str | None]] = []
    for row in rows:
        key = (row.region_code, bool(row.claimed_by_reader))
        tier = tiers.get(key)
        if tier is None:
            tier = tiers[key] = tier_for(principal, key[0], claimant=key[1])
        code = visible_region(row.region_code, tier)
        shown.append((code, row.region_name if code == row.region_code else row.county_name))
    return shown


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


async def _send_json(send: Send, body: bytes, status: int = 200) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 503:  # a claim's commit lost with the database: retried as on every path
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
