"""Deliveries: only the claimant logs, never beyond the pledge; someone else verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.coordination import (
    DISPUTE,
    END,
    VERIFY,
    a_child,
    a_need,
    backdate_claim,
    claimed,
    log,
    new_key,
    scalar,
)
from tests.db_state import snapshot
from tests.graphql import GraphQLClient
from tests.world import World


async def test_an_indivisible_need_is_fulfilled_once_its_delivery_is_verified(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    logged = (await log(gql, won["id"], "ngo_worker")).ok()["logDelivery"]
    assert logged["delivery"]["status"] == "LOGGED"
    assert logged["delivery"]["quantity"] is None
    assert logged["claim"]["status"] == "ACTIVE"  # delivered, not yet verified
    assert logged["claim"]["need"]["status"] == "IN_PROGRESS"

    delivery = logged["delivery"]
    verified = (
        await gql(
            VERIFY,
            {"input": {"id": delivery["id"], "version": delivery["version"]}},
            as_="director",
        )
    ).ok()["verifyDelivery"]
    assert verified["delivery"]["status"] == "VERIFIED"
    assert verified["delivery"]["reviewedBy"]["name"] == "江口镇儿童之家"
    assert verified["claim"]["status"] == "FULFILLED"
    assert verified["claim"]["need"]["status"] == "FULFILLED"
    again = await gql(
        VERIFY,
        {"input": {"id": delivery["id"], "version": verified["delivery"]["version"]}},
        as_="officer",
    )
    assert again.codes == ["DELIVERY_ALREADY_REVIEWED"]
    actions = await scalar(
        engine, "SELECT string_agg(action, ',' ORDER BY chain_seq) FROM audit_events"
    )
    for action in ("claim.made", "delivery.logged", "delivery.verified", "claim.fulfilled"):
        assert action in actions
    assert "need.status_changed" in actions


async def test_divisible_deliveries_add_up_to_the_pledge_and_no_more(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql), category="FINANCIAL", quantity="1000", unit="YUAN")
    won = (await claimed(gql, need, "ngo", quantity="600"))["claim"]
    first = (await log(gql, won["id"], "ngo", quantity="400")).ok()["logDelivery"]
    assert first["claim"]["deliveredQuantity"] == "400.00"
    assert first["claim"]["need"]["status"] == "PARTIALLY_MET"  # delivered some, 400 unpledged

    before = await snapshot(engine)
    over = await log(gql, won["id"], "ngo", quantity="200.01")
    assert over.codes == ["OVER_DELIVERY"]
    assert over.errors[0]["extensions"]["remaining"] == "200.00"
    assert await snapshot(engine) == before

    second = (await log(gql, won["id"], "ngo", quantity="200")).ok()["logDelivery"]
    assert second["claim"]["deliveredQuantity"] == "600.00"
    for delivery in (first["delivery"], second["delivery"]):
        await gql(
            VERIFY, {"input": {"id": delivery["id"], "version": delivery["version"]}}, as_="officer"
        )
    after = await gql(
        "query($id: ID!) { need(id: $id) { status claims { status verifiedQuantity } } }",
        {"id": need},
        as_="officer",
    )
    # The claim is fulfilled, but 400 yuan of the need were never pledged: partially met.
    assert after.ok()["need"] == {
        "status": "PARTIALLY_MET",
        "claims": [{"status": "FULFILLED", "verifiedQuantity": "600.00"}],
    }
    rest = (await claimed(gql, need, "business"))["claim"]
    assert rest["quantity"] == "400.00"
    logged = (await log(gql, rest["id"], "business", quantity="400")).ok()["logDelivery"]
    assert logged["claim"]["need"]["status"] == "IN_PROGRESS"
    verified = (
        await gql(
            VERIFY,
            {"input": {"id": logged["delivery"]["id"], "version": logged["delivery"]["version"]}},
            as_="director",
        )
    ).ok()["verifyDelivery"]
    assert verified["claim"]["need"]["status"] == "FULFILLED"
    assert (
        await gql(
            "query($id: ID!) { need(id: $id) { remainingQuantity } }", {"id": need}, as_="ngo"
        )
    ).ok()["need"]["remainingQuantity"] == "0.00"


async def test_only_the_claimant_logs_and_refusals_write_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    need = await a_need(gql, child)
    divisible = await a_need(gql, child, category="FINANCIAL", quantity="100", unit="YUAN")
    won = (await claimed(gql, need, "ngo"))["claim"]
    pledge = (await claimed(gql, divisible, "ngo", quantity="50"))["claim"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    before = await snapshot(engine)
    cases = [
        (await log(gql, won["id"], "business"), "NOT_CLAIMANT"),
        (await log(gql, won["id"], "foreign_ngo"), "NOT_FOUND"),
        (await log(gql, won["id"], "ngo", quantity="1"), "BAD_USER_INPUT"),
        (await log(gql, pledge["id"], "ngo"), "BAD_USER_INPUT"),  # how much?
        (await log(gql, won["id"], "ngo", delivered_at=future), "BAD_USER_INPUT"),
        (await log(gql, won["id"], "ngo", description=" "), "BAD_USER_INPUT"),
        (await log(gql, won["id"], "ngo", delivered_at="2026-01-01T10:00:00"), "BAD_USER_INPUT"),
    ]
    for response, code in cases:
        assert response.codes == [code], response.errors
    assert await snapshot(engine) == before


async def test_no_delivery_under_an_expired_or_ended_claim(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    expiring = (await claimed(gql, await a_need(gql, child), "ngo"))["claim"]
    releasing = (await claimed(gql, await a_need(gql, child, category="EDUCATION"), "ngo"))["claim"]
    await backdate_claim(engine, expiring["id"], expires_at="1 second", expected_by="1 hour")
    await gql(
        END["release"],
        {
            "input": {
                "id": releasing["id"],
                "version": releasing["version"],
                "reason": "改由学校负责",
            }
        },
        as_="ngo",
    )
    before = await snapshot(engine)
    assert (await log(gql, expiring["id"], "ngo")).codes == ["CLAIM_EXPIRED"]
    assert (await log(gql, releasing["id"], "ngo")).codes == ["CLAIM_NOT_ACTIVE"]
    assert await snapshot(engine) == before


async def test_a_retried_delivery_is_logged_once(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql), category="MATERIAL", quantity="3", unit="ITEMS")
    won = (await claimed(gql, need, "ngo"))["claim"]
    key, at = new_key(), datetime.now(UTC).isoformat()
    first = await log(gql, won["id"], "ngo", quantity="1", key=key, delivered_at=at)
    again = await log(gql, won["id"], "ngo", quantity="1", key=key, delivered_at=at)
    assert (
        first.ok()["logDelivery"]["delivery"]["id"] == again.ok()["logDelivery"]["delivery"]["id"]
    )
    assert await scalar(engine, "SELECT count(*) FROM deliveries") == 1
    different = await log(gql, won["id"], "ngo", quantity="2", key=key)
    assert different.codes == ["IDEMPOTENCY_KEY_REUSED"]


async def test_separation_of_duties(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    need = await a_need(gql, await a_child(gql))
    # An official's own bureau claims and delivers: it may not verify itself.
    won = (await claimed(gql, need, "officer"))["claim"]
    delivery = (await log(gql, won["id"], "officer")).ok()["logDelivery"]["delivery"]
    before = await snapshot(engine)
    refused = {
        login: (
            await gql(
                VERIFY, {"input": {"id": delivery["id"], "version": delivery["version"]}}, as_=login
            )
        ).codes
        for login in ("officer", "auditor", "ngo", "foreign_officer")
    }
    assert refused == {
        "officer": ["SELF_VERIFICATION"],
        "auditor": ["FORBIDDEN"],  # may read the audit log, not verify
        "ngo": ["FORBIDDEN"],
        "foreign_officer": ["NOT_FOUND"],
    }
    assert await snapshot(engine) == before
    verified = await gql(
        VERIFY, {"input": {"id": delivery["id"], "version": delivery["version"]}}, as_="director"
    )
    assert verified.ok()["verifyDelivery"]["delivery"]["status"] == "VERIFIED"


async def test_a_disputed_delivery_no_longer_counts(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    await backdate_claim(engine, won["id"], expires_at="-1 hour")  # an hour left
    delivery = (await log(gql, won["id"], "ngo")).ok()["logDelivery"]["delivery"]
    no_reason = await gql(
        DISPUTE,
        {"input": {"id": delivery["id"], "version": delivery["version"], "reason": ""}},
        as_="director",
    )
    assert no_reason.codes == ["BAD_USER_INPUT"]
    disputed = (
        await gql(
            DISPUTE,
            {
                "input": {
                    "id": delivery["id"],
                    "version": delivery["version"],
                    "reason": "家长说未收到",
                }
            },
            as_="director",
        )
    ).ok()["disputeDelivery"]
    assert disputed["delivery"]["status"] == "DISPUTED"
    assert disputed["delivery"]["disputeReason"] == "家长说未收到"
    assert disputed["claim"]["status"] == "ACTIVE"
    assert disputed["claim"]["deliveredQuantity"] == "0.00"
    assert disputed["claim"]["need"]["status"] == "CLAIMED"
    # The provider gets a week to put it right, and can log again.
    days_left = await scalar(
        engine, "SELECT extract(epoch FROM expires_at - now()) / 86400 FROM claims"
    )
    assert 6.9 < float(days_left) <= 7.0
    again = (await log(gql, won["id"], "ngo")).ok()["logDelivery"]
    assert again["claim"]["need"]["status"] == "IN_PROGRESS"


async def test_a_delivered_claim_awaiting_verification_does_not_expire(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    delivery = (await log(gql, won["id"], "ngo")).ok()["logDelivery"]["delivery"]
    await backdate_claim(engine, won["id"], expires_at="1 day", expected_by="2 days")
    read = await gql(
        "query($id: ID!) { claim(id: $id) { status overdue } }", {"id": won["id"]}, as_="ngo"
    )
    assert read.ok()["claim"] == {"status": "ACTIVE", "overdue": False}
    verified = await gql(
        VERIFY, {"input": {"id": delivery["id"], "version": delivery["version"]}}, as_="director"
    )
    assert verified.ok()["verifyDelivery"]["claim"]["status"] == "FULFILLED"
