"""Helpers for coordination tests: children, needs and claims made the way clients make them."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import GlobalID

from tests.graphql import GraphQLClient, GraphQLResponse
from tests.world import VILLAGE, birth_date_for_age

_keys = itertools.count(1)


def new_key() -> str:
    return f"key-{next(_keys)}-{uuid.uuid4().hex[:8]}"


def uuid_of(global_id: str) -> uuid.UUID:
    return uuid.UUID(GlobalID.from_id(global_id).node_id)


REGISTER = """
mutation($input: RegisterChildInput!, $key: String) {
  registerChild(input: $input, idempotencyKey: $key) {
    child { id code status }
    likelyDuplicates { reason child { id code } }
  }
}
"""

OPEN_NEED = """
mutation($input: OpenNeedInput!) {
  openNeed(input: $input) { need { id status version quantity pledgedQuantity } }
}
"""

CLAIM = """
mutation($input: ClaimNeedInput!, $key: String!) {
  claimNeed(input: $input, idempotencyKey: $key) {
    __typename
    ... on ClaimNeedSuccess {
      claim {
        id status quantity version expiresAt expectedBy extensionsUsed
        deliveredQuantity verifiedQuantity note overdue provider { name }
      }
      need { id status pledgedQuantity remainingQuantity version }
      overlapWarnings { kind category windowDays provider { name } claim { id } }
    }
    ... on AlreadyClaimed { until holder { name } need { id status } message }
    ... on OverPledged { requested remaining unit need { id status remainingQuantity } message }
  }
}
"""

CLAIM_FIELDS = """
  id status quantity version expiresAt expectedBy extensionsUsed deliveredQuantity
  verifiedQuantity note endReason endedAt overdue need { id status pledgedQuantity }
"""

EXTEND = f"""
mutation($input: ExtendClaimInput!) {{
  extendClaim(input: $input) {{ claim {{ {CLAIM_FIELDS} }} }}
}}
"""

END = {
    verb: f"""
mutation($input: EndClaimInput!) {{ {verb}Claim(input: $input) {{ claim {{ {CLAIM_FIELDS} }} }} }}
"""
    for verb in ("release", "fail", "revoke")
}

DELIVERY_FIELDS = """
  delivery { id status quantity version deliveredAt description evidence disputeReason
             provider { name } reviewedBy { name } }
  claim { id status deliveredQuantity verifiedQuantity version need { id status } }
"""

LOG = f"""
mutation($input: LogDeliveryInput!, $key: String!) {{
  logDelivery(input: $input, idempotencyKey: $key) {{ {DELIVERY_FIELDS} }}
}}
"""

VERIFY = f"""
mutation($input: VerifyDeliveryInput!) {{ verifyDelivery(input: $input) {{ {DELIVERY_FIELDS} }} }}
"""

DISPUTE = f"""
mutation($input: DisputeDeliveryInput!) {{ disputeDelivery(input: $input) {{ {DELIVERY_FIELDS} }} }}
"""


async def register(
    gql: GraphQLClient,
    name: str = "王小明",
    *,
    village: str = VILLAGE,
    birth: date | None = None,
    id_number: str | None = None,
    consent: bool = False,
    as_: str = "officer",
) -> GraphQLResponse:
    identity: dict[str, Any] = {"fullName": name}
    if id_number:
        identity["idNumber"] = id_number
    child_input: dict[str, Any] = {
        "regionCode": village,
        "birthDate": (birth or birth_date_for_age(9)).isoformat(),
        "guardianship": "GRANDPARENTS",
        "fatherAway": True,
        "motherAway": True,
        "identity": identity,
    }
    if consent:
        # The guardian agrees that a provider claiming the child's needs may know who it is.
        child_input["consent"] = {
            "covers": ["IDENTITY"],
            "givenBy": "奶奶",
            "givenAt": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        }
    return await gql(REGISTER, {"input": child_input}, as_=as_)


async def a_child(gql: GraphQLClient, name: str = "王小明", **kwargs: Any) -> str:
    return str((await register(gql, name, **kwargs)).ok()["registerChild"]["child"]["id"])


async def a_need(
    gql: GraphQLClient,
    child_id: str,
    *,
    category: str = "MATERIAL",
    quantity: str | None = None,
    unit: str | None = None,
    urgency: str = "HIGH",
    as_: str = "officer",
) -> str:
    need_input: dict[str, Any] = {
        "childId": child_id,
        "category": category,
        "urgency": urgency,
        "description": "冬季棉衣两件",
    }
    if quantity is not None:
        need_input |= {"quantity": quantity, "unit": unit or "ITEMS"}
    result = await gql(OPEN_NEED, {"input": need_input}, as_=as_)
    return str(result.ok()["openNeed"]["need"]["id"])


async def claim(
    gql: GraphQLClient,
    need_id: str,
    as_: str,
    *,
    quantity: str | None = None,
    key: str | None = None,
    expected_by: str | None = None,
    note: str | None = None,
) -> GraphQLResponse:
    claim_input: dict[str, Any] = {"needId": need_id}
    if quantity is not None:
        claim_input["quantity"] = quantity
    if expected_by is not None:
        claim_input["expectedBy"] = expected_by
    if note is not None:
        claim_input["note"] = note
    return await gql(CLAIM, {"input": claim_input, "key": key or new_key()}, as_=as_)


async def claimed(gql: GraphQLClient, need_id: str, as_: str, **kwargs: Any) -> dict[str, Any]:
    """Claim and expect to win; the ClaimNeedSuccess."""
    result = (await claim(gql, need_id, as_, **kwargs)).ok()["claimNeed"]
    assert result["__typename"] == "ClaimNeedSuccess", result
    return dict(result)


async def log(
    gql: GraphQLClient,
    claim_id: str,
    as_: str,
    *,
    quantity: str | None = None,
    delivered_at: str | None = None,
    key: str | None = None,
    description: str = "送到家中，祖母签收",
) -> GraphQLResponse:
    delivery_input: dict[str, Any] = {
        "claimId": claim_id,
        "deliveredAt": delivered_at or datetime.now(UTC).isoformat(),
        "description": description,
        "evidence": "签收单 2026-001",
    }
    if quantity is not None:
        delivery_input["quantity"] = quantity
    return await gql(LOG, {"input": delivery_input, "key": key or new_key()}, as_=as_)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql), params)).scalar_one()


async def link_audit(engine: AsyncEngine) -> None:
    """Link the committed audit events into the chain now, as the hub's background linker
    would shortly, before a test reads the chain's columns itself."""
    async with engine.begin() as connection:
        await connection.execute(text("SELECT audit_chain_pending()"))


async def backdate_claim(engine: AsyncEngine, claim_id: str, **intervals: str) -> None:
    """Move a claim's deadline (or promised date) into the past, as if time had passed."""
    assignments = ", ".join(
        f"{column} = now() - interval '{value}'" for column, value in intervals.items()
    )
    async with engine.begin() as connection:
        await connection.execute(
            text(f"UPDATE claims SET {assignments} WHERE id = :id"), {"id": uuid_of(claim_id)}
        )
