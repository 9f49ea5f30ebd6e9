"""Each benchmark operation sends a fixed, small number of SQL statements, whatever the page
holds: an N+1 regression in any of them fails here before it shows in the benchmark."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import scenarios
from hub.db.models import Child, Need, Region
from hub.vocabulary import Guardianship, NeedCategory, RegionLevel, Urgency
from tests.graphql import GraphQLClient
from tests.query_counter import (
    count_checkouts,
    count_statements,
    count_transactions,
    reported,
)
from tests.registry_data import feed_settled
from tests.test_query_count import seed_needs
from tests.world import COUNTY, PROVINCE, TOWNSHIP, World

# Measured when the budget was set; lowering one is progress, raising one needs a reason.
# Each operation also pays its cost into its principal's rate limit: one upsert (the limit is
# shared by every hub process, so it lives in the database).
BUDGET = {
    # principal (client with its roles), the rate limit, the page with its children, whether
    # the reader claims each child and the names of the regions it may show, claims
    "needs_page": 4,
    # principal, the rate limit, the page; the first page since a moment also tells PostgreSQL
    # to plan it for its own values (a generic plan read the whole register at 1 M children)
    "changes_feed": 4,
    # principal, the rate limit, the child, identity read with its access record, needs,
    # claims, region
    "child_detail": 8,
    # principal, the rate limit, the need locked if the claimant may claim it (with whether a
    # claim on it is overdue), idempotency (the key recorded with the claim's id), then one
    # statement for the pledge on the need's row (settling it), the claim (returning its view),
    # its audit events and the event announcing it to subscribers; the compiled path
    # (``hub.fast_claim``) sends these, the normal path one more for the overlap warnings its
    # document may ask for
    "claim_need": 5,
    "claim_need_normal_path": 6,
}


async def _statements(
    gql: GraphQLClient, engine: AsyncEngine, query: str, variables: dict[str, object], as_: str
) -> tuple[int, dict[str, object]]:
    with count_statements(engine) as statements:
        result = await gql(query, variables, as_=as_)
        await reported()
    return len(statements), result.ok()


async def test_needs_page_costs_a_constant_within_budget(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=2)
    small, data = await _statements(
        gql, engine, scenarios.NEEDS_PAGE, {"county": COUNTY, "after": None}, "ngo"
    )
    assert len(data["needs"]["edges"]) == 4  # type: ignore[index]
    await _seed_offset(engine, 30)
    large, data = await _statements(
        gql, engine, scenarios.NEEDS_PAGE, {"county": COUNTY, "after": None}, "ngo"
    )
    assert len(data["needs"]["edges"]) == 50  # type: ignore[index]
    assert large == small
    assert large <= BUDGET["needs_page"], large


async def test_changes_feed_costs_a_constant_within_budget(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=60)
    await feed_settled(engine)
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    variables = {"province": PROVINCE, "since": since, "after": None}
    count, data = await _statements(gql, engine, scenarios.CHANGES_FEED, variables, "officer")
    assert len(data["needs"]["edges"]) == 100  # type: ignore[index]
    assert count <= BUDGET["changes_feed"], count


async def test_child_detail_costs_a_constant_within_budget(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=3)
    async with engine.connect() as connection:
        child_id = (await connection.execute(select(Child.id).limit(1))).scalar_one()
    variables = {"id": scenarios.global_id("Child", child_id)}
    count, data = await _statements(gql, engine, scenarios.CHILD_DETAIL, variables, "officer")
    assert len(data["child"]["coverage"]) == 2  # type: ignore[index]
    assert count <= BUDGET["child_detail"], count


async def test_claim_need_within_budget(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=3)
    async with engine.connect() as connection:
        need_id = (await connection.execute(select(Need.id).limit(1))).scalar_one()
        other_id = (await connection.execute(select(Need.id).offset(1).limit(1))).scalar_one()
    variables = {"need": scenarios.global_id("Need", need_id), "key": str(uuid.uuid4())}
    count, data = await _statements(gql, engine, scenarios.CLAIM_NEED, variables, "ngo")
    assert data["claimNeed"]["__typename"] == "ClaimNeedSuccess"  # type: ignore[index]
    assert count <= BUDGET["claim_need"], count
    # The same document, made not the compiled one by a comment: GraphQL executes it.
    variables = {"need": scenarios.global_id("Need", other_id), "key": str(uuid.uuid4())}
    normal = scenarios.CLAIM_NEED + "# the normal path\n"
    count, data = await _statements(gql, engine, normal, variables, "ngo")
    assert data["claimNeed"]["__typename"] == "ClaimNeedSuccess"  # type: ignore[index]
    assert count <= BUDGET["claim_need_normal_path"], count


# Transactions (each a BEGIN and a ROLLBACK or COMMIT round trip) and pool checkouts per
# operation. The needs page reads in one session without a transaction: who asks, the rate
# limit (one statement, committing by itself) and the page. The child: who asks, the rate limit
# and each loader batch in a session of its own without a transaction, except the identity
# read's (it commits its access record with the read). The compiled claim: who asks and the
# rate limit in one session without a transaction, then the claim's own transaction.
TRANSACTIONS = {"needs_page": 0, "child_detail": 1, "claim_need": 1}
CHECKOUTS = {"needs_page": 1, "child_detail": 7, "claim_need": 2}


async def test_reads_take_few_transactions(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await seed_needs(engine, children=3)
    async with engine.connect() as connection:
        child_id = (await connection.execute(select(Child.id).limit(1))).scalar_one()
        need_id = (await connection.execute(select(Need.id).limit(1))).scalar_one()
    cases = {
        "needs_page": (scenarios.NEEDS_PAGE, {"county": COUNTY, "after": None}, "ngo"),
        "child_detail": (
            scenarios.CHILD_DETAIL,
            {"id": scenarios.global_id("Child", child_id)},
            "officer",
        ),
        "claim_need": (
            scenarios.CLAIM_NEED,
            {"need": scenarios.global_id("Need", need_id), "key": str(uuid.uuid4())},
            "ngo",
        ),
    }
    for name, (query, variables, as_) in cases.items():
        with count_transactions(engine) as transactions, count_checkouts(engine) as checkouts:
            (await gql(query, variables, as_=as_)).ok()
        assert len(transactions) <= TRANSACTIONS[name], (name, len(transactions))
        assert len(checkouts) <= CHECKOUTS[name], (name, len(checkouts))


async def _seed_offset(engine: AsyncEngine, children: int) -> None:
    """Further children in villages of their own, to fill a page of 50."""
    villages = [f"{TOWNSHIP}{600 + n:03d}" for n in range(children)]
    rows = [
        {
            "id": uuid.uuid4(),
            "code": f"C{COUNTY}-{900 + n:05d}",
            "region_code": village,
            "birth_date": date(2012, 3, 1),
            "guardianship": Guardianship.GRANDPARENTS,
            "father_away": True,
            "mother_away": False,
        }
        for n, village in enumerate(villages)
    ]
    async with engine.begin() as connection:
        await connection.execute(
            insert(Region),
            [
                {
                    "code": v,
                    "name": f"新村{n}",
                    "level": RegionLevel.VILLAGE,
                    "parent_code": TOWNSHIP,
                }
                for n, v in enumerate(villages)
            ],
        )
        await connection.execute(insert(Child), rows)
        await connection.execute(
            insert(Need),
            [
                {
                    "child_id": row["id"],
                    "region_code": row["region_code"],
                    "category": category,
                    "urgency": Urgency.MEDIUM,
                    "description": "测试",
                }
                for row in rows
                for category in (NeedCategory.MATERIAL, NeedCategory.FINANCIAL)
            ],
        )
