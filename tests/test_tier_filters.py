"""No inference past one's tier: a reader who sees only a child's county cannot narrow any read
by region below the county, and so cannot learn which township or village a child or need lies
in. Officials, who see the village, narrow as far as they like within their reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from bench import scenarios
from hub.db.models import RoleGrant
from hub.vocabulary import Role
from tests.auth import Tokens
from tests.coordination import a_child, a_need, claimed
from tests.events_client import listening, subscribed, until
from tests.graphql import GraphQLClient
from tests.world import (
    COUNTY,
    FOREIGN_VILLAGE,
    OTHER_VILLAGE_SAME_TOWNSHIP,
    TOWNSHIP,
    VILLAGE,
    World,
)

TOO_NARROW = "JURISDICTION_TOO_NARROW"

NEEDS = """
query($j: String) { needs(filter: {jurisdiction: $j}) { edges { node { id } } } }
"""
FEED = """
query($j: String) {
  needs(orderBy: CHANGED, filter: {jurisdiction: $j}) { edges { node { id } } }
}
"""
CHILDREN = """
query($j: String) { children(filter: {jurisdiction: $j}) { edges { node { code } } } }
"""
CLAIMS = """
query($j: String) { claims(filter: {jurisdiction: $j}) { nodes { id } } }
"""
COVERAGE = "query($j: String) { coverage(jurisdiction: $j) { jurisdictions } }"
STATISTICS = "query($j: String) { needStatistics(jurisdiction: $j) { category count } }"
ACCOUNTABILITY = "query($j: String) { accountability(jurisdiction: $j) { claimsMade } }"

# Every read narrowed by region, with one who reads it at the pseudonymous tier.
FILTERED_READS = {
    "needs": (NEEDS, "ngo"),
    "change-feed": (FEED, "ngo"),
    "children": (CHILDREN, "ngo_worker"),
    "claims": (CLAIMS, "business"),
    "coverage": (COVERAGE, "ngo"),
    "statistics": (STATISTICS, "auditor"),
    "accountability": (ACCOUNTABILITY, "ngo"),
}


@pytest.fixture
async def two_villages(gql: GraphQLClient, world: World) -> dict[str, str]:
    """A child with a need in each of two villages of one township; the NGO claims one."""
    here = await a_child(gql, "王小明", village=VILLAGE)
    there = await a_child(gql, "李小红", village=OTHER_VILLAGE_SAME_TOWNSHIP)
    need_here = await a_need(gql, here)
    need_there = await a_need(gql, there)
    await claimed(gql, need_here, "ngo")
    return {"here": need_here, "there": need_there}


@pytest.mark.parametrize("read", FILTERED_READS)
@pytest.mark.parametrize("narrower", [TOWNSHIP, VILLAGE])
async def test_a_pseudonymous_reader_cannot_narrow_below_the_county(
    gql: GraphQLClient, two_villages: dict[str, str], read: str, narrower: str
) -> None:
    query, reader = FILTERED_READS[read]
    assert (await gql(query, {"j": COUNTY}, as_=reader)).errors == []
    refused = await gql(query, {"j": narrower}, as_=reader)
    assert refused.codes == [TOO_NARROW]
    assert refused.data is None
    assert refused.errors[0]["extensions"]["longest"] == 6


@pytest.mark.parametrize("read", FILTERED_READS)
async def test_officials_narrow_to_the_village(
    gql: GraphQLClient, two_villages: dict[str, str], read: str
) -> None:
    query, _ = FILTERED_READS[read]
    assert (await gql(query, {"j": VILLAGE}, as_="officer")).errors == []
    assert (await gql(query, {"j": VILLAGE}, as_="director")).errors == []


async def test_an_officials_village_filter_still_finds_only_that_village(
    gql: GraphQLClient, two_villages: dict[str, str]
) -> None:
    found = (await gql(NEEDS, {"j": VILLAGE}, as_="officer")).ok()["needs"]["edges"]
    assert [edge["node"]["id"] for edge in found] == [two_villages["here"]]


async def test_a_claim_on_one_child_does_not_open_the_village_to_its_claimant(
    gql: GraphQLClient, two_villages: dict[str, str]
) -> None:
    """The NGO sees the village of the child it claims; a village filter would still tell it
    which of the others lie there, so the rule is its tier for the whole area."""
    listed = (await gql(NEEDS, {"j": COUNTY}, as_="ngo")).ok()["needs"]["edges"]
    assert {edge["node"]["id"] for edge in listed} == set(two_villages.values())
    assert (await gql(NEEDS, {"j": VILLAGE}, as_="ngo")).codes == [TOO_NARROW]


async def test_outside_the_reach_a_narrow_filter_finds_nothing_as_before(
    gql: GraphQLClient, two_villages: dict[str, str]
) -> None:
    """Nothing there is readable at any tier, so nothing can be inferred: an empty answer."""
    assert (await gql(NEEDS, {"j": FOREIGN_VILLAGE}, as_="ngo")).ok()["needs"]["edges"] == []


# The compiled page's document, sent with one more line so that the normal path executes it.
NORMAL_PATH = "# executed by the normal path\n" + scenarios.NEEDS_PAGE


async def _answer(gql: GraphQLClient, query: str, county: str, reader: str) -> dict[str, Any]:
    result = await gql(query, {"county": county, "after": None}, as_=reader)
    for error in result.errors:
        error.pop("locations", None)  # the normal path's document has one more line
        error.get("extensions", {}).pop("requestId", None)
    return {"status": result.status_code, "data": result.data, "errors": result.errors}


@pytest.mark.parametrize(
    ("reader", "narrower", "code"),
    [
        ("ngo", VILLAGE, TOO_NARROW),
        ("ngo", TOWNSHIP, TOO_NARROW),
        ("business", VILLAGE, TOO_NARROW),
        ("officer", VILLAGE, None),
        ("director", VILLAGE, None),
        ("ngo", COUNTY, None),
    ],
)
async def test_the_compiled_needs_page_refuses_as_the_normal_path(
    gql: GraphQLClient,
    two_villages: dict[str, str],
    reader: str,
    narrower: str,
    code: str | None,
) -> None:
    compiled = await _answer(gql, scenarios.NEEDS_PAGE, narrower, reader)
    normal = await _answer(gql, NORMAL_PATH, narrower, reader)
    assert compiled == normal
    assert [error["extensions"]["code"] for error in compiled["errors"]] == ([code] if code else [])


@pytest.fixture
async def hub(app: Starlette) -> AsyncIterator[str]:
    async with listening(app) as address:
        yield address


async def test_a_pseudonymous_reader_cannot_follow_a_villages_events(
    hub: str, tokens: Tokens, two_villages: dict[str, str]
) -> None:
    token = await tokens.member("ngo")
    async with subscribed(hub, token, variables={"jurisdiction": VILLAGE}) as stream:
        assert await stream.ended_with() == [TOO_NARROW]
    async with subscribed(hub, token, variables={"jurisdiction": COUNTY}) as stream:
        assert await stream.quiet(0.2)  # following the county goes on
    official = await tokens.member("director")
    async with subscribed(hub, official, variables={"jurisdiction": VILLAGE}) as stream:
        assert await stream.quiet(0.2)


async def test_losing_case_detail_ends_a_villages_stream(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine, world: World
) -> None:
    """The tier is read live, as the roles are: a child director made a plain worker (who sees
    counties only) stops following the village at the next event, instead of going on learning
    which needs lie in it."""
    child = await a_child(gql, "王小明", village=VILLAGE)
    token = await tokens.member("director")
    async with subscribed(hub, token, variables={"jurisdiction": VILLAGE}) as stream:
        # Registered before the role changes: the first event is the one that is checked.
        await until(lambda: app.state.event_broker.subscribers == 1)
        async with engine.begin() as connection:
            await connection.execute(
                update(RoleGrant)
                .where(RoleGrant.member_id == world.members["director"])
                .values(role=Role.WORKER)
            )
        await a_need(gql, child)
        assert await stream.ended_with(wait=5) == ["FORBIDDEN"]
