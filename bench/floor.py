"""The floor: what one page of ``needs_page`` costs without GraphQL, ORM or policy layers.

A minimal Starlette + asyncpg endpoint sends the statements the hub sends for the page (the
caller's live role grants, the page of needs by keyset, then the children, regions and claims of
that page in one batch each) and returns the same JSON. The hub's requests per second over the
floor's, measured in the same run on the same machine, is the figure that noise does not spoil.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.domain.visibility import age_band

STATUSES = ["open", "claimed", "partially_met"]

GRANTS = """
SELECT g.role, g.jurisdiction FROM role_grants g JOIN oauth_clients c ON c.id = g.oauth_client_id
WHERE c.client_id = $1 AND g.revoked_at IS NULL AND c.revoked_at IS NULL
"""
PAGE = """
SELECT id, child_id, region_code, category, urgency, status, quantity, unit, due_date, created_at
FROM needs
WHERE region_code >= $1 AND region_code < $2 AND status = ANY($3::need_status[])
  AND ($4::urgency IS NULL OR (urgency, created_at, id) > ($4::urgency, $5, $6))
ORDER BY urgency, created_at, id
LIMIT 51
"""
CHILDREN = "SELECT id, code, birth_date FROM children WHERE id = ANY($1::uuid[])"
REGIONS = "SELECT code, name FROM regions WHERE code = ANY($1::varchar[])"
CLAIMS = """
SELECT need_id, status, expires_at FROM claims WHERE need_id = ANY($1::uuid[])
ORDER BY claimed_at, id
"""


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10
    )
    try:
        yield
    finally:
        await app.state.pool.close()


def _upper(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _cursor(row: asyncpg.Record) -> str:
    raw = orjson.dumps([row["urgency"], row["created_at"].isoformat(), str(row["id"])])
    return base64.urlsafe_b64encode(raw).decode()


async def needs_page(request: Request) -> Response:
    county = request.query_params["county"]
    after = request.query_params.get("after")
    key: list[Any] = [None, None, None]
    if after:
        urgency, created, need_id = orjson.loads(base64.urlsafe_b64decode(after))
        from datetime import datetime

        key = [urgency, datetime.fromisoformat(created), uuid.UUID(need_id)]
    async with request.app.state.pool.acquire() as connection:
        await connection.fetch(GRANTS, request.headers.get("x-client-id", "bench-ngo"))
        rows = await connection.fetch(PAGE, county, _upper(county), STATUSES, *key)
        page, more = rows[:50], len(rows) > 50
        children = {
            row["id"]: row
            for row in await connection.fetch(CHILDREN, list({r["child_id"] for r in page}))
        }
        regions = {
            row["code"]: row["name"]
            for row in await connection.fetch(REGIONS, list({r["region_code"][:6] for r in page}))
        }
        claims: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for row in await connection.fetch(CLAIMS, [r["id"] for r in page]):
            claims[row["need_id"]].append(
                {"status": row["status"].upper(), "expiresAt": row["expires_at"]}
            )
    today = date.today()
    edges = [
        {
            "node": {
                "id": base64.b64encode(f"Need:{row['id']}".encode()).decode(),
                "category": row["category"].upper(),
                "urgency": row["urgency"].upper(),
                "status": row["status"].upper(),
                "quantity": row["quantity"],
                "unit": row["unit"].upper() if row["unit"] else None,
                "dueDate": row["due_date"],
                "createdAt": row["created_at"],
                "child": {
                    "code": children[row["child_id"]]["code"],
                    "ageBand": age_band(children[row["child_id"]]["birth_date"], today),
                },
                # A provider without case detail sees the county, not the village.
                "region": {"code": row["region_code"][:6], "name": regions[row["region_code"][:6]]},
                "claims": claims.get(row["id"], []),
            }
        }
        for row in page
    ]
    body = {
        "data": {
            "needs": {
                "edges": edges,
                "pageInfo": {
                    "hasNextPage": more,
                    "endCursor": _cursor(page[-1]) if page else None,
                },
            }
        }
    }
    return Response(orjson.dumps(body, default=str), media_type="application/json")


app = Starlette(routes=[Route("/needs", needs_page)], lifespan=lifespan)
