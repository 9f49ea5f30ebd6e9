"""Coverage of a child and of a jurisdiction, providers' accountability, and what a claim shows."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.coordination import (
    END,
    VERIFY,
    a_child,
    a_need,
    backdate_claim,
    claimed,
    log,
    scalar,
    uuid_of,
)
from tests.graphql import GraphQLClient
from tests.world import VILLAGE, World

CHILD_COVERAGE = """
query($id: ID!) {
  child(id: $id) {
    coverage {
      need { category status quantity }
      claims { status quantity provider { name } }
      deliveries { status quantity }
      pledged delivered verified remaining unmet
    }
  }
}
"""


async def test_a_child_s_coverage_shows_what_is_still_unmet(
    gql: GraphQLClient, world: World
) -> None:
    child = await a_child(gql)
    money = await a_need(
        gql, child, category="FINANCIAL", quantity="1000", unit="YUAN", urgency="CRITICAL"
    )
    coat = await a_need(gql, child, category="MATERIAL", urgency="LOW")
    pledge = (await claimed(gql, money, "ngo", quantity="600"))["claim"]
    first = (await log(gql, pledge["id"], "ngo", quantity="250")).ok()["logDelivery"]["delivery"]
    await log(gql, pledge["id"], "ngo", quantity="100")
    await gql(VERIFY, {"input": {"id": first["id"], "version": first["version"]}}, as_="director")

    coverage = (await gql(CHILD_COVERAGE, {"id": child}, as_="officer")).ok()["child"]["coverage"]
    assert [c["need"]["category"] for c in coverage] == [
        "FINANCIAL",
        "MATERIAL",
    ]  # most urgent first
    money_cover, coat_cover = coverage
    assert money_cover["need"]["status"] == "PARTIALLY_MET"
    assert money_cover["claims"] == [
        {"status": "ACTIVE", "quantity": "600.00", "provider": {"name": "春苗助学会"}}
    ]
    assert sorted(d["status"] for d in money_cover["deliveries"]) == ["LOGGED", "VERIFIED"]
    assert {
        k: money_cover[k] for k in ("pledged", "delivered", "verified", "remaining", "unmet")
    } == {
        "pledged": "600.00",
        "delivered": "350.00",
        "verified": "250.00",
        "remaining": "400.00",
        "unmet": "750.00",
    }
    assert (
        coat_cover["claims"] == []
        and coat_cover["remaining"] == "1.00"
        and coat_cover["unmet"] == "1.00"
    )
    assert coat != money


COVERAGE = """
query($j: String) {
  coverage(jurisdiction: $j) {
    jurisdictions
    needsByCategoryAndStatus { category status count }
    unmetNeedsByUrgency { urgency count }
    claimsExpiringWithinWeek
    overdueClaims
  }
}
"""


async def test_coverage_of_a_jurisdiction(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    safety = await a_need(gql, child, category="SAFETY", urgency="CRITICAL")  # 7-day claims
    tutoring = await a_need(gql, child, category="EDUCATION")
    await a_need(gql, child, category="EDUCATION", urgency="LOW")
    await claimed(gql, safety, "ngo")
    late = (await claimed(gql, tutoring, "business"))["claim"]
    await backdate_claim(engine, late["id"], expected_by="1 day")  # promised, not delivered
    # A village is for those who see villages (an NGO sees counties: it would be refused).
    report = (await gql(COVERAGE, {"j": VILLAGE}, as_="officer")).ok()["coverage"]
    assert report["jurisdictions"] == [VILLAGE]
    assert report["needsByCategoryAndStatus"] == [
        {"category": "EDUCATION", "status": "OPEN", "count": 1},
        {"category": "EDUCATION", "status": "CLAIMED", "count": 1},
        {"category": "SAFETY", "status": "CLAIMED", "count": 1},
    ]
    assert report["unmetNeedsByUrgency"] == [
        {"urgency": "CRITICAL", "count": 1},
        {"urgency": "HIGH", "count": 1},
        {"urgency": "LOW", "count": 1},
    ]
    assert report["claimsExpiringWithinWeek"] == 1
    assert report["overdueClaims"] == 1
    foreign = (await gql(COVERAGE, as_="foreign_ngo")).ok()["coverage"]
    assert foreign["needsByCategoryAndStatus"] == []


ACCOUNTABILITY = """
{ accountability { provider { name } claimsMade active fulfilled released expired failed revoked
                   neverDelivered medianDaysToVerifiedDelivery } }
"""


async def test_accountability_shows_claims_never_delivered(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    needs = [
        await a_need(gql, child, category=c) for c in ("MATERIAL", "EDUCATION", "MEDICAL", "LEGAL")
    ]
    delivered = (await claimed(gql, needs[0], "ngo"))["claim"]
    delivery = (await log(gql, delivered["id"], "ngo")).ok()["logDelivery"]["delivery"]
    await gql(
        VERIFY, {"input": {"id": delivery["id"], "version": delivery["version"]}}, as_="officer"
    )
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE claims SET claimed_at = ended_at - interval '3 days' WHERE id = :id"),
            {"id": uuid_of(delivered["id"])},
        )
    released = (await claimed(gql, needs[1], "ngo"))["claim"]
    await gql(
        END["release"],
        {"input": {"id": released["id"], "version": released["version"], "reason": "忙"}},
        as_="ngo",
    )
    forgotten = (await claimed(gql, needs[2], "ngo"))["claim"]
    await backdate_claim(engine, forgotten["id"], expires_at="1 hour")
    await claimed(gql, needs[3], "business")

    records = (await gql(ACCOUNTABILITY, as_="officer")).ok()["accountability"]
    assert records == [
        {
            "provider": {"name": "春苗助学会"},
            "claimsMade": 3,
            "active": 0,
            "fulfilled": 1,
            "released": 1,
            "expired": 1,
            "failed": 0,
            "revoked": 0,
            "neverDelivered": 2,
            "medianDaysToVerifiedDelivery": 3.0,
        },
        {
            "provider": {"name": "赣南制衣厂"},
            "claimsMade": 1,
            "active": 1,
            "fulfilled": 0,
            "released": 0,
            "expired": 0,
            "failed": 0,
            "revoked": 0,
            "neverDelivered": 0,
            "medianDaysToVerifiedDelivery": None,
        },
    ]
    own = (await gql(ACCOUNTABILITY, as_="business")).ok()["accountability"]
    assert [r["provider"]["name"] for r in own] == ["赣南制衣厂"]
    assert (await gql(ACCOUNTABILITY, as_="auditor")).codes == ["FORBIDDEN"]


CASE = """
query($id: ID!) {
  child(id: $id) { school region { code } needs { description } }
}
"""


async def test_an_active_claim_opens_the_child_s_case_detail(
    gql: GraphQLClient, world: World
) -> None:
    child = await a_child(gql)
    need = await a_need(gql, child)
    before = (await gql(CASE, {"id": child}, as_="business")).ok()["child"]
    assert before["region"]["code"] == VILLAGE[:6]  # only the county
    assert before["needs"] == [{"description": None}]
    won = (await claimed(gql, need, "business"))["claim"]
    during = (await gql(CASE, {"id": child}, as_="business")).ok()["child"]
    assert during["region"]["code"] == VILLAGE
    assert during["needs"] == [{"description": "冬季棉衣两件"}]
    # Another provider without a claim still sees only pseudonymous facts.
    assert (await gql(CASE, {"id": child}, as_="ngo")).ok()["child"]["region"]["code"] == VILLAGE[
        :6
    ]
    await gql(
        END["release"],
        {"input": {"id": won["id"], "version": won["version"], "reason": "改期"}},
        as_="business",
    )
    after = (await gql(CASE, {"id": child}, as_="business")).ok()["child"]
    assert after["region"]["code"] == VILLAGE[:6]


IDENTITY = """
query($id: ID!) { child(id: $id) { identity(purpose: "送棉衣需要联系监护人") { fullName } } }
"""


async def test_a_claim_with_the_guardian_s_consent_shows_the_claimant_who_the_child_is(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    consented = await a_child(gql, "李小红", consent=True)
    unconsented = await a_child(gql, "张小刚")
    for child in (consented, unconsented):
        assert (await gql(IDENTITY, {"id": child}, as_="ngo")).ok()["child"]["identity"] is None
    won = (await claimed(gql, await a_need(gql, consented), "ngo"))["claim"]
    await claimed(gql, await a_need(gql, unconsented), "ngo")
    shown = (await gql(IDENTITY, {"id": consented}, as_="ngo")).ok()["child"]["identity"]
    assert shown == {"fullName": "李小红"}
    assert (await gql(IDENTITY, {"id": unconsented}, as_="ngo")).ok()["child"]["identity"] is None
    # Every read is on record; once the claim ends, so does the claimant's view.
    assert await scalar(engine, "SELECT count(*) FROM access_records") == 1
    await gql(
        END["release"],
        {"input": {"id": won["id"], "version": won["version"], "reason": "改由学校负责"}},
        as_="ngo",
    )
    assert (await gql(IDENTITY, {"id": consented}, as_="ngo")).ok()["child"]["identity"] is None
