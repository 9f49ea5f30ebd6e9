"""Overlapping aid: warned at claim time, listed for officials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.coordination import END, VERIFY, a_child, a_need, claimed, log, uuid_of
from tests.graphql import GraphQLClient
from tests.world import World

OVERLAPS = """
query($since: DateTime) {
  overlaps(since: $since) { category daysApart child { code } claims { id provider { name } } }
}
"""


async def test_a_claim_warns_of_the_same_help_from_another_provider(
    gql: GraphQLClient, world: World
) -> None:
    child = await a_child(gql)
    coats = await a_need(gql, child, category="MATERIAL")
    quilt = await a_need(gql, child, category="MATERIAL")
    tutoring = await a_need(gql, child, category="EDUCATION")
    first = await claimed(gql, coats, "ngo")
    assert first["overlapWarnings"] == []
    assert (await claimed(gql, tutoring, "business"))["overlapWarnings"] == []  # other category

    second = await claimed(gql, quilt, "business")
    assert second["overlapWarnings"] == [
        {
            "kind": "ACTIVE_CLAIM",
            "category": "MATERIAL",
            "windowDays": 60,
            "provider": {"name": "春苗助学会"},
            "claim": {"id": first["claim"]["id"]},
        }
    ]


async def test_a_recent_delivery_warns_and_an_old_one_does_not(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    winter, spring, autumn = [await a_need(gql, child) for _ in range(3)]
    # A delivery 30 days ago of the same category: within the 60-day window for material aid.
    first = (await claimed(gql, winter, "ngo"))["claim"]
    delivered = (await log(gql, first["id"], "ngo")).ok()["logDelivery"]["delivery"]
    await gql(
        VERIFY, {"input": {"id": delivered["id"], "version": delivered["version"]}}, as_="officer"
    )
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE deliveries SET delivered_at = now() - interval '30 days'")
        )
    warned = await claimed(gql, spring, "business")
    assert [w["kind"] for w in warned["overlapWarnings"]] == ["DELIVERY"]
    # The business releases; ninety days after the delivery, claiming again is no overlap.
    await gql(
        END["release"],
        {
            "input": {
                "id": warned["claim"]["id"],
                "version": warned["claim"]["version"],
                "reason": "重复",
            }
        },
        as_="business",
    )
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE deliveries SET delivered_at = now() - interval '90 days'")
        )
    assert (await claimed(gql, autumn, "business"))["overlapWarnings"] == []
    # The provider's own earlier aid is follow-up, not overlap; the business's is.
    again = await claimed(gql, spring, "ngo")
    assert [(w["kind"], w["provider"]["name"]) for w in again["overlapWarnings"]] == [
        ("ACTIVE_CLAIM", "赣南制衣厂")
    ]


async def test_officials_list_overlaps_in_their_jurisdiction(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql, "李娜")
    other = await a_child(gql, "张伟")
    coats, quilt = await a_need(gql, child), await a_need(gql, child)
    first = (await claimed(gql, coats, "ngo"))["claim"]
    second = (await claimed(gql, quilt, "business"))["claim"]
    # Same provider twice for the other child, and one pledge shared on one need: no overlap.
    await claimed(gql, await a_need(gql, other), "ngo")
    await claimed(gql, await a_need(gql, other), "ngo")
    shared = await a_need(gql, other, category="FINANCIAL", quantity="100", unit="YUAN")
    await claimed(gql, shared, "ngo", quantity="50")
    await claimed(gql, shared, "business", quantity="50")

    found = (await gql(OVERLAPS, as_="officer")).ok()["overlaps"]
    assert len(found) == 1
    overlap = found[0]
    assert overlap["category"] == "MATERIAL"
    assert overlap["daysApart"] < 1
    assert {c["id"] for c in overlap["claims"]} == {first["id"], second["id"]}
    assert overlap["claims"][0]["id"] == first["id"]  # the earlier aid first
    assert (await gql(OVERLAPS, as_="foreign_officer")).ok()["overlaps"] == []
    assert (await gql(OVERLAPS, as_="ngo")).codes == ["FORBIDDEN"]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await gql(OVERLAPS, {"since": later}, as_="officer")).ok()["overlaps"] == []
    # Aid further apart than the window is not an overlap.
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE claims SET claimed_at = now() - interval '61 days' WHERE id = :id"),
            {"id": uuid_of(first["id"])},
        )
    assert (await gql(OVERLAPS, as_="officer")).ok()["overlaps"] == []
