"""A provider's own records across counties: a member sees the notes and evidence of its
provider's claims only within its own reach, and claims outside that reach are left out of
``claims(filter: {mine: true})`` instead of failing the whole answer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import RoleGrant
from tests.coordination import END, a_child, a_need, claimed, log
from tests.graphql import GraphQLClient
from tests.world import FOREIGN_VILLAGE, OTHER_COUNTY, World

MINE = """
{
  claims(filter: {mine: true}) {
    nodes { id note need { id } deliveries { id description evidence } }
  }
}
"""

CLAIM_NODE = """
query($id: ID!) {
  node(id: $id) {
    ... on Claim { id note need { id } deliveries { id evidence } }
    ... on Delivery { id evidence description claim { id note } }
  }
}
"""

# Claims and deliveries are no federation entities: a gateway reaches them through needs.
ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Need { id claims { id note deliveries { id evidence } } }
  }
}
"""


@pytest.fixture
async def split_provider(gql: GraphQLClient, world: World, engine: AsyncEngine) -> dict[str, Any]:
    """The NGO works in the whole city: its coordinator in Gan county, its worker moved to
    Xingguo county. The coordinator claims a need in Gan county with a note and logs a
    delivery with evidence; the worker claims one in Xingguo."""
    async with engine.begin() as connection:
        await connection.execute(
            update(RoleGrant)
            .where(RoleGrant.member_id == world.members["ngo_worker"])
            .values(jurisdiction=OTHER_COUNTY)
        )
    gan_need = await a_need(gql, await a_child(gql, "王小明"))
    gan = (await claimed(gql, gan_need, "ngo", note="祖母腿脚不便，上门送达"))["claim"]
    delivery = (await log(gql, gan["id"], "ngo")).ok()["logDelivery"]["delivery"]
    foreign_child = await a_child(gql, "李小红", village=FOREIGN_VILLAGE, as_="foreign_officer")
    xing_need = await a_need(gql, foreign_child, as_="foreign_officer")
    xing = (await claimed(gql, xing_need, "ngo_worker", note="周六下午"))["claim"]
    return {"gan": gan["id"], "gan_need": gan_need, "delivery": delivery["id"], "xing": xing["id"]}


async def test_a_member_lists_only_its_providers_claims_within_its_own_reach(
    gql: GraphQLClient, split_provider: dict[str, Any]
) -> None:
    worker = await gql(MINE, as_="ngo_worker")
    assert worker.errors == []
    assert worker.data is not None
    listed = worker.data["claims"]["nodes"]
    assert [claim["id"] for claim in listed] == [split_provider["xing"]]
    assert listed[0]["note"] == "周六下午"
    # The coordinator, in Gan county, sees the Gan claim and not the Xingguo one.
    coordinator = (await gql(MINE, as_="ngo")).ok()["claims"]["nodes"]
    assert [claim["id"] for claim in coordinator] == [split_provider["gan"]]
    assert coordinator[0]["note"] == "祖母腿脚不便，上门送达"
    assert coordinator[0]["deliveries"][0]["evidence"] == "签收单 2026-001"


async def test_claims_out_of_a_members_reach_are_not_read_through_any_path(
    gql: GraphQLClient, split_provider: dict[str, Any]
) -> None:
    for wanted in (split_provider["gan"], split_provider["delivery"]):
        node = await gql(CLAIM_NODE, {"id": wanted}, as_="ngo_worker")
        assert node.errors == [] and node.data == {"node": None}, wanted
    references = [{"__typename": "Need", "id": split_provider["gan_need"]}]
    found = await gql(ENTITIES, {"representations": references}, as_="ngo_worker")
    assert found.data == {"_entities": [None]}, found.errors
    assert (await gql(ENTITIES, {"representations": references}, as_="ngo")).ok() == {
        "_entities": [
            {
                "id": split_provider["gan_need"],
                "claims": [
                    {
                        "id": split_provider["gan"],
                        "note": "祖母腿脚不便，上门送达",
                        "deliveries": [
                            {"id": split_provider["delivery"], "evidence": "签收单 2026-001"}
                        ],
                    }
                ],
            }
        ]
    }
    # Nor through the claims list's other filters.
    everything = await gql(
        '{ claims(filter: {jurisdiction: "3607"}) { nodes { id note } } }', as_="ngo_worker"
    )
    assert [claim["id"] for claim in everything.ok()["claims"]["nodes"]] == [split_provider["xing"]]


async def test_officials_of_the_county_still_see_the_claims_there(
    gql: GraphQLClient, split_provider: dict[str, Any]
) -> None:
    listed = (await gql("{ claims { nodes { id } } }", as_="officer")).ok()["claims"]["nodes"]
    assert [claim["id"] for claim in listed] == [split_provider["gan"]]


async def test_a_member_cannot_act_on_its_providers_claim_out_of_its_reach(
    gql: GraphQLClient, split_provider: dict[str, Any]
) -> None:
    """What a member may not read it may not release either: the claim is not found, as any
    record out of reach, and stays active."""
    release = {"input": {"id": split_provider["gan"], "version": 1, "reason": "人手不足"}}
    refused = await gql(END["release"], release, as_="ngo_worker")
    assert refused.codes == ["NOT_FOUND"]
    still = (await gql(MINE, as_="ngo")).ok()["claims"]["nodes"]
    assert [claim["id"] for claim in still] == [split_provider["gan"]]
    status = "{ claims(filter: {mine: true}) { nodes { status } } }"
    assert (await gql(status, as_="ngo")).ok()["claims"]["nodes"] == [{"status": "ACTIVE"}]
