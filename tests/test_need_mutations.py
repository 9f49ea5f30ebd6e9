"""openNeed, updateNeed and cancelNeed: validation, versions, and refusals that change nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db_state import count, snapshot
from tests.graphql import GraphQLClient
from tests.test_child_mutations import register
from tests.world import World

OPEN = """
mutation($input: OpenNeedInput!, $key: String) {
  openNeed(input: $input, idempotencyKey: $key) {
    need { id version category urgency status description quantity unit dueDate
           child { code } region { code } }
  }
}
"""
UPDATE = """
mutation($input: UpdateNeedInput!) {
  updateNeed(input: $input) { need { id version urgency description quantity unit dueDate } }
}
"""
CANCEL = """
mutation($input: CancelNeedInput!) {
  cancelNeed(input: $input) { need { id version status cancelReason } }
}
"""


def need_input(child_id: str, **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "childId": child_id,
        "category": "FINANCIAL",
        "urgency": "HIGH",
        "description": "下学期学费",
        "quantity": "1200.00",
        "unit": "YUAN",
        "dueDate": (date.today() + timedelta(days=30)).isoformat(),
    }
    value.update(overrides)
    return value


@pytest.fixture
async def child_id(gql: GraphQLClient, world: World) -> str:
    return (await register(gql))["id"]  # type: ignore[no-any-return]


async def open_need(gql: GraphQLClient, child_id: str, **overrides: Any) -> dict[str, Any]:
    result = await gql(OPEN, {"input": need_input(child_id, **overrides)}, as_="officer")
    return result.ok()["openNeed"]["need"]  # type: ignore[no-any-return]


async def test_an_officer_opens_a_divisible_need(
    gql: GraphQLClient, child_id: str, engine: AsyncEngine
) -> None:
    need = await open_need(gql, child_id)
    assert need["status"] == "OPEN"
    assert need["version"] == 1
    assert need["quantity"] == "1200.00"
    assert need["unit"] == "YUAN"
    assert need["child"]["code"].startswith("C360721-")
    assert need["region"]["code"] == "360721101201"
    assert await count(engine, "audit_events", "action = 'need.opened'") == 1


async def test_an_indivisible_need_has_no_quantity(gql: GraphQLClient, child_id: str) -> None:
    need = await open_need(
        gql, child_id, category="PSYCHOLOGICAL", quantity=None, unit=None, description="心理疏导"
    )
    assert (need["quantity"], need["unit"]) == (None, None)


OPEN_REFUSALS = [
    pytest.param("ngo", {}, "FORBIDDEN", id="ngo"),
    pytest.param("foreign_officer", {}, "NOT_FOUND", id="child-out-of-reach"),
    pytest.param("officer", {"quantity": None}, "BAD_USER_INPUT", id="unit-without-quantity"),
    pytest.param("officer", {"unit": None}, "BAD_USER_INPUT", id="quantity-without-unit"),
    pytest.param("officer", {"quantity": "0"}, "BAD_USER_INPUT", id="zero-quantity"),
    pytest.param("officer", {"quantity": "-5"}, "BAD_USER_INPUT", id="negative-quantity"),
    pytest.param("officer", {"quantity": "1.234"}, "BAD_USER_INPUT", id="three-decimals"),
    pytest.param("officer", {"quantity": "1e12"}, "BAD_USER_INPUT", id="absurd-quantity"),
    pytest.param("officer", {"description": "   "}, "BAD_USER_INPUT", id="blank-description"),
    pytest.param("officer", {"description": "x" * 2001}, "BAD_USER_INPUT", id="long-description"),
    pytest.param(
        "officer",
        {"dueDate": (date.today() - timedelta(days=1)).isoformat()},
        "BAD_USER_INPUT",
        id="due-in-the-past",
    ),
    pytest.param("officer", {"category": "HOUSING"}, "BAD_USER_INPUT", id="unknown-category"),
    pytest.param("officer", {"childId": "not-an-id"}, "BAD_USER_INPUT", id="malformed-child-id"),
]


@pytest.mark.parametrize(("who", "overrides", "code"), OPEN_REFUSALS)
async def test_refused_needs_change_nothing(
    gql: GraphQLClient,
    child_id: str,
    engine: AsyncEngine,
    who: str,
    overrides: dict[str, Any],
    code: str,
) -> None:
    before = await snapshot(engine)
    result = await gql(OPEN, {"input": need_input(child_id, **overrides)}, as_=who)
    assert result.codes == [code], result.errors
    assert await snapshot(engine) == before


async def test_a_need_for_an_unknown_child_is_not_found(
    gql: GraphQLClient, child_id: str, engine: AsyncEngine
) -> None:
    import base64
    import uuid

    unknown = base64.b64encode(f"Child:{uuid.uuid4()}".encode()).decode()
    before = await snapshot(engine)
    result = await gql(OPEN, {"input": need_input(unknown)}, as_="officer")
    assert result.codes == ["NOT_FOUND"]
    assert await snapshot(engine) == before


async def test_open_need_replays_by_idempotency_key(
    gql: GraphQLClient, child_id: str, engine: AsyncEngine
) -> None:
    variables = {"input": need_input(child_id), "key": "fees-2026"}
    first = (await gql(OPEN, variables, as_="officer")).ok()["openNeed"]["need"]
    second = (await gql(OPEN, variables, as_="officer")).ok()["openNeed"]["need"]
    assert first["id"] == second["id"]
    assert await count(engine, "needs") == 1
    other = {"input": need_input(child_id, quantity="900.00"), "key": "fees-2026"}
    assert (await gql(OPEN, other, as_="officer")).codes == ["IDEMPOTENCY_KEY_REUSED"]
    assert await count(engine, "needs") == 1


async def test_update_need(gql: GraphQLClient, child_id: str, engine: AsyncEngine) -> None:
    need = await open_need(gql, child_id)
    result = await gql(
        UPDATE,
        {
            "input": {
                "id": need["id"],
                "version": 1,
                "urgency": "CRITICAL",
                "quantity": "1500.00",
                "dueDate": None,
            }
        },
        as_="officer",
    )
    updated = result.ok()["updateNeed"]["need"]
    assert updated["version"] == 2
    assert updated["urgency"] == "CRITICAL"
    assert updated["quantity"] == "1500.00"
    assert updated["dueDate"] is None
    assert updated["description"] == "下学期学费"
    assert await count(engine, "audit_events", "action = 'need.updated'") == 1


async def test_a_divisible_need_becomes_indivisible_only_by_clearing_both(
    gql: GraphQLClient, child_id: str
) -> None:
    need = await open_need(gql, child_id)
    half = await gql(
        UPDATE, {"input": {"id": need["id"], "version": 1, "unit": None}}, as_="officer"
    )
    assert half.codes == ["BAD_USER_INPUT"]
    both = await gql(
        UPDATE,
        {"input": {"id": need["id"], "version": 1, "unit": None, "quantity": None}},
        as_="officer",
    )
    assert both.ok()["updateNeed"]["need"]["quantity"] is None


UPDATE_REFUSALS = [
    pytest.param("officer", {"version": 2, "urgency": "LOW"}, "STALE_VERSION", id="stale"),
    pytest.param("ngo", {"version": 1, "urgency": "LOW"}, "FORBIDDEN", id="ngo"),
    pytest.param(
        "foreign_officer", {"version": 1, "urgency": "LOW"}, "NOT_FOUND", id="out-of-reach"
    ),
    pytest.param("officer", {"version": 1}, "BAD_USER_INPUT", id="nothing"),
    pytest.param("officer", {"version": 1, "description": ""}, "BAD_USER_INPUT", id="blank"),
    pytest.param("officer", {"version": 1, "urgency": None}, "BAD_USER_INPUT", id="clear-urgency"),
]


@pytest.mark.parametrize(("who", "changes", "code"), UPDATE_REFUSALS)
async def test_refused_need_updates_change_nothing(
    gql: GraphQLClient,
    child_id: str,
    engine: AsyncEngine,
    who: str,
    changes: dict[str, Any],
    code: str,
) -> None:
    need = await open_need(gql, child_id)
    before = await snapshot(engine)
    result = await gql(UPDATE, {"input": {"id": need["id"], **changes}}, as_=who)
    assert result.codes == [code], result.errors
    assert await snapshot(engine) == before


async def test_cancel_need_with_a_reason(
    gql: GraphQLClient, child_id: str, engine: AsyncEngine
) -> None:
    need = await open_need(gql, child_id)
    result = await gql(
        CANCEL,
        {"input": {"id": need["id"], "version": 1, "reason": "家长已返乡，需求由家庭解决"}},
        as_="officer",
    )
    cancelled = result.ok()["cancelNeed"]["need"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cancelReason"] == "家长已返乡，需求由家庭解决"
    assert cancelled["version"] == 2
    assert await count(engine, "audit_events", "action = 'need.cancelled'") == 1

    before = await snapshot(engine)
    again = await gql(
        CANCEL, {"input": {"id": need["id"], "version": 2, "reason": "again"}}, as_="officer"
    )
    assert again.codes == ["CONFLICT"]
    change = await gql(
        UPDATE, {"input": {"id": need["id"], "version": 2, "urgency": "LOW"}}, as_="officer"
    )
    assert change.codes == ["CONFLICT"]
    assert await snapshot(engine) == before


@pytest.mark.parametrize(
    ("who", "version", "reason", "code"),
    [
        pytest.param("officer", 1, "  ", "BAD_USER_INPUT", id="no-reason"),
        pytest.param("officer", 1, "x" * 501, "BAD_USER_INPUT", id="long-reason"),
        pytest.param("officer", 3, "duplicate", "STALE_VERSION", id="stale"),
        pytest.param("business", 1, "duplicate", "FORBIDDEN", id="business"),
    ],
)
async def test_refused_cancellations_change_nothing(
    gql: GraphQLClient,
    child_id: str,
    engine: AsyncEngine,
    who: str,
    version: int,
    reason: str,
    code: str,
) -> None:
    need = await open_need(gql, child_id)
    before = await snapshot(engine)
    result = await gql(
        CANCEL, {"input": {"id": need["id"], "version": version, "reason": reason}}, as_=who
    )
    assert result.codes == [code], result.errors
    assert await snapshot(engine) == before
