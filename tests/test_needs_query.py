"""Reading needs: filters, the two orders, keyset pages, IDs, and what lies outside one's reach."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import Region
from hub.domain.pagination import encode_cursor
from hub.vocabulary import NeedCategory, NeedStatus, NeedUnit, RegionLevel, Urgency
from tests.graphql import GraphQLClient, GraphQLResponse
from tests.registry_data import (
    T0,
    add_child,
    add_need,
    feed_settled,
    gid,
    needs_at,
    set_need,
    touch_needs,
)
from tests.world import (
    CITY,
    COUNTY,
    FOREIGN_VILLAGE,
    OTHER_COUNTY,
    OTHER_VILLAGE_SAME_TOWNSHIP,
    TOWNSHIP,
    VILLAGE,
    World,
)

NEEDS = """
query($filter: NeedFilter, $orderBy: NeedOrder, $first: Int, $after: String) {
  needs(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    edges { cursor node { id urgency category status createdAt updatedAt dueDate } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

NEED = """
query($id: ID!) {
  need(id: $id) { id category urgency status version description region { code } }
}
"""

# A second township of Gan county, so that township-level filters have something to leave out.
SECOND_TOWNSHIP = "360721102"
SECOND_TOWNSHIP_VILLAGE = "360721102201"


async def add_second_township(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(Region),
            [
                {
                    "code": SECOND_TOWNSHIP,
                    "name": "湖江镇",
                    "level": RegionLevel.TOWNSHIP,
                    "parent_code": COUNTY,
                },
                {
                    "code": SECOND_TOWNSHIP_VILLAGE,
                    "name": "夏府村",
                    "level": RegionLevel.VILLAGE,
                    "parent_code": SECOND_TOWNSHIP,
                },
            ],
        )


async def list_ids(
    gql: GraphQLClient, as_: str = "ngo", filter: dict[str, Any] | None = None, **variables: Any
) -> list[str]:
    result = await gql(NEEDS, {"filter": filter, "first": 100, **variables}, as_=as_)
    return [edge["node"]["id"] for edge in result.ok()["needs"]["edges"]]


def refused(result: GraphQLResponse, code: str = "BAD_USER_INPUT") -> dict[str, Any]:
    """The one error of a refused request; nothing of the list came back."""
    assert result.codes == [code], result.errors
    assert result.data is None or all(value is None for value in result.data.values())
    return result.errors[0]


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["officer", "ngo"])
async def test_jurisdiction_filter_at_county_township_and_village_level(
    gql: GraphQLClient, world: World, engine: AsyncEngine, login: str
) -> None:
    await add_second_township(engine)
    here = await add_need(engine, await add_child(engine, region=VILLAGE))
    neighbour = await add_need(engine, await add_child(engine, region=OTHER_VILLAGE_SAME_TOWNSHIP))
    elsewhere = await add_need(engine, await add_child(engine, region=SECOND_TOWNSHIP_VILLAGE))
    await add_need(engine, await add_child(engine, region=FOREIGN_VILLAGE))
    here_id, neighbour_id, elsewhere_id = (gid("Need", n.id) for n in (here, neighbour, elsewhere))

    async def within(jurisdiction: str | None) -> set[str]:
        filter = None if jurisdiction is None else {"jurisdiction": jurisdiction}
        return set(await list_ids(gql, login, filter))

    everything = {here_id, neighbour_id, elsewhere_id}
    assert await within(None) == everything
    assert await within(COUNTY) == everything
    below_the_county = (TOWNSHIP, SECOND_TOWNSHIP, VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP)
    if login == "officer":
        assert await within(TOWNSHIP) == {here_id, neighbour_id}
        assert await within(SECOND_TOWNSHIP) == {elsewhere_id}
        assert await within(VILLAGE) == {here_id}
        assert await within(OTHER_VILLAGE_SAME_TOWNSHIP) == {neighbour_id}
    else:
        # The NGO sees counties, not villages: narrowing below one would tell it the village.
        for narrower in below_the_county:
            refused = await gql(NEEDS, {"filter": {"jurisdiction": narrower}}, as_=login)
            assert refused.codes == ["JURISDICTION_TOO_NARROW"]
    # Asking wider than one's reach narrows to the reach; asking outside it finds nothing.
    assert await within(CITY) == everything
    assert await within("36") == everything
    assert await within(OTHER_COUNTY) == set()
    assert await within(FOREIGN_VILLAGE) == set()


async def test_category_filter(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    child = await add_child(engine)
    school = await add_need(engine, child, category=NeedCategory.EDUCATION)
    doctor = await add_need(engine, child, category=NeedCategory.MEDICAL)
    await add_need(engine, child, category=NeedCategory.MATERIAL)

    found = await list_ids(gql, filter={"categories": ["EDUCATION", "MEDICAL"]})
    assert set(found) == {gid("Need", school.id), gid("Need", doctor.id)}
    assert await list_ids(gql, filter={"categories": ["LEGAL"]}) == []
    # An empty list is no condition at all.
    assert len(await list_ids(gql, filter={"categories": []})) == 3


async def test_urgency_filter(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    child = await add_child(engine)
    critical = await add_need(engine, child, urgency=Urgency.CRITICAL)
    high = await add_need(engine, child, urgency=Urgency.HIGH)
    await add_need(engine, child, urgency=Urgency.LOW)

    found = await list_ids(gql, filter={"urgencies": ["CRITICAL", "HIGH"]})
    assert found == [gid("Need", critical.id), gid("Need", high.id)]
    assert await list_ids(gql, filter={"urgencies": ["MEDIUM"]}) == []


async def test_status_filter(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    child = await add_child(engine)
    still_open = await add_need(engine, child)
    claimed = await add_need(engine, child)
    cancelled = await add_need(engine, child)
    fulfilled = await add_need(engine, child)
    await set_need(engine, claimed, status=NeedStatus.CLAIMED)
    await set_need(engine, cancelled, status=NeedStatus.CANCELLED)
    await set_need(engine, fulfilled, status=NeedStatus.FULFILLED)

    result = await gql(NEEDS, {"filter": {"statuses": ["OPEN"]}}, as_="ngo")
    nodes = [edge["node"] for edge in result.ok()["needs"]["edges"]]
    assert [(n["id"], n["status"]) for n in nodes] == [(gid("Need", still_open.id), "OPEN")]

    closed = await list_ids(gql, filter={"statuses": ["CANCELLED", "FULFILLED"]})
    assert set(closed) == {gid("Need", cancelled.id), gid("Need", fulfilled.id)}
    assert await list_ids(gql, filter={"statuses": ["CLAIMED"]}) == [gid("Need", claimed.id)]
    assert len(await list_ids(gql)) == 4


async def test_due_before_filter(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    child = await add_child(engine)
    soon = await add_need(engine, child, due_date=date.today() + timedelta(days=5))
    later = await add_need(engine, child, due_date=date.today() + timedelta(days=10))
    await add_need(engine, child, due_date=None)

    ten_days = (date.today() + timedelta(days=10)).isoformat()
    eleven_days = (date.today() + timedelta(days=11)).isoformat()
    # Strictly before; a need with no due date is never "due before" anything.
    assert await list_ids(gql, filter={"dueBefore": ten_days}) == [gid("Need", soon.id)]
    assert set(await list_ids(gql, filter={"dueBefore": eleven_days})) == {
        gid("Need", soon.id),
        gid("Need", later.id),
    }
    assert await list_ids(gql, filter={"dueBefore": date.today().isoformat()}) == []


async def test_changed_since_filter(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    child = await add_child(engine)
    first, second, third = await needs_at(
        engine, child, [(Urgency.MEDIUM, 1), (Urgency.MEDIUM, 2), (Urgency.MEDIUM, 3)]
    )

    since_second = (T0 + timedelta(hours=2)).isoformat()
    assert await list_ids(gql, filter={"changedSince": since_second}) == [gid("Need", third.id)]
    # The same instant written in Beijing time.
    beijing = "2024-03-01T18:00:00+08:00"
    assert await list_ids(gql, filter={"changedSince": beijing}) == [gid("Need", third.id)]
    since_start = T0.isoformat()
    assert await list_ids(gql, filter={"changedSince": since_start}) == [
        gid("Need", n.id) for n in (first, second, third)
    ]


async def test_filters_combine(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    here = await add_child(engine, region=VILLAGE)
    there = await add_child(engine, region=OTHER_VILLAGE_SAME_TOWNSHIP)
    wanted = await add_need(engine, here, category=NeedCategory.MEDICAL, urgency=Urgency.HIGH)
    await add_need(engine, here, category=NeedCategory.MEDICAL, urgency=Urgency.LOW)
    await add_need(engine, here, category=NeedCategory.LEGAL, urgency=Urgency.HIGH)
    await add_need(engine, there, category=NeedCategory.MEDICAL, urgency=Urgency.HIGH)

    found = await list_ids(
        gql,
        "officer",  # who sees villages, and so may filter by one
        filter={
            "jurisdiction": VILLAGE,
            "categories": ["MEDICAL"],
            "urgencies": ["HIGH", "CRITICAL"],
            "statuses": ["OPEN"],
        },
    )
    assert found == [gid("Need", wanted.id)]


# --- order ------------------------------------------------------------------------------------


async def test_default_order_is_most_urgent_first_then_oldest(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    # Made in an order that is neither urgency order nor age order, nor alphabetical.
    low_old, medium_new, critical_new, high_old, medium_old, critical_old, low_new = await needs_at(
        engine,
        child,
        [
            (Urgency.LOW, 1),
            (Urgency.MEDIUM, 9),
            (Urgency.CRITICAL, 8),
            (Urgency.HIGH, 3),
            (Urgency.MEDIUM, 2),
            (Urgency.CRITICAL, 5),
            (Urgency.LOW, 7),
        ],
    )
    result = await gql(NEEDS, {"first": 50}, as_="ngo")
    nodes = [edge["node"] for edge in result.ok()["needs"]["edges"]]
    assert [n["urgency"] for n in nodes] == [
        "CRITICAL",
        "CRITICAL",
        "HIGH",
        "MEDIUM",
        "MEDIUM",
        "LOW",
        "LOW",
    ]
    assert [n["id"] for n in nodes] == [
        gid("Need", n.id)
        for n in (critical_old, critical_new, high_old, medium_old, medium_new, low_old, low_new)
    ]
    # Asking for the default explicitly gives the same list.
    explicit = await gql(NEEDS, {"first": 50, "orderBy": "URGENCY"}, as_="ngo")
    assert [e["node"]["id"] for e in explicit.ok()["needs"]["edges"]] == [n["id"] for n in nodes]


async def test_order_by_changed_follows_the_changes_not_their_timestamps(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    a, b, c = await needs_at(
        engine, child, [(Urgency.CRITICAL, 1), (Urgency.LOW, 2), (Urgency.HIGH, 3)]
    )
    # Changed in the order c, a, b, each stamped with a time that says otherwise (a clock that
    # lags, a transaction that ran long): the feed goes by the changes themselves.
    await set_need(engine, c, updated_at=T0 + timedelta(hours=30))
    await set_need(engine, a, updated_at=T0 + timedelta(hours=10))
    await set_need(engine, b, updated_at=T0 + timedelta(hours=20))
    await feed_settled(engine)
    assert await list_ids(gql, orderBy="CHANGED") == [gid("Need", n.id) for n in (c, a, b)]

    # A need changed again moves to the end.
    await touch_needs(engine, [c])
    await feed_settled(engine)
    assert await list_ids(gql, orderBy="CHANGED") == [gid("Need", n.id) for n in (a, b, c)]
    # The default order does not change with changes.
    assert await list_ids(gql) == [gid("Need", n.id) for n in (a, c, b)]


# --- pages ------------------------------------------------------------------------------------


async def walk(
    gql: GraphQLClient, size: int, order: str, filter: dict[str, Any] | None = None
) -> tuple[list[str], list[bool]]:
    """Every page of the list, following endCursor; the ids seen and each page's hasNextPage."""
    seen: list[str] = []
    more: list[bool] = []
    after = None
    for _ in range(50):
        result = await gql(
            NEEDS,
            {"first": size, "after": after, "orderBy": order, "filter": filter},
            as_="ngo",
        )
        connection = result.ok()["needs"]
        edges = connection["edges"]
        info = connection["pageInfo"]
        assert len(edges) <= size
        assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
        seen.extend(edge["node"]["id"] for edge in edges)
        more.append(info["hasNextPage"])
        if not info["hasNextPage"]:
            return seen, more
        after = info["endCursor"]
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("order", ["URGENCY", "CHANGED"])
async def test_keyset_pages_cover_the_list_without_duplicates_or_gaps(
    gql: GraphQLClient, world: World, engine: AsyncEngine, order: str
) -> None:
    child = await add_child(engine)
    # Ties on purpose: same urgency and same instant, so only the id tells them apart.
    made = await needs_at(
        engine,
        child,
        [
            (Urgency.HIGH, 4),
            (Urgency.HIGH, 4),
            (Urgency.HIGH, 4),
            (Urgency.LOW, 1),
            (Urgency.CRITICAL, 6),
            (Urgency.MEDIUM, 4),
            (Urgency.CRITICAL, 6),
        ],
    )
    if order == "CHANGED":
        # Changed in one transaction: ties in the change feed.
        await touch_needs(engine, made[1:4])
        await feed_settled(engine)
    full = await list_ids(gql, orderBy=order)
    assert sorted(full) == sorted(gid("Need", n.id) for n in made)

    for size in (1, 2, 3, 7):
        seen, more = await walk(gql, size, order)
        assert seen == full, f"pages of {size}"
        pages = -(-len(full) // size)
        assert more == [True] * (pages - 1) + [False], f"pages of {size}"

    # A page that ends exactly at the last need says there is nothing more.
    last = await gql(NEEDS, {"first": 7, "orderBy": order}, as_="ngo")
    assert last.ok()["needs"]["pageInfo"]["hasNextPage"] is False
    # Past the end: an empty page with no cursor.
    end = last.ok()["needs"]["pageInfo"]["endCursor"]
    after_end = await gql(NEEDS, {"first": 3, "after": end, "orderBy": order}, as_="ngo")
    assert after_end.ok()["needs"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


async def test_pages_keep_their_filter(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    made = await needs_at(
        engine, child, [(Urgency.HIGH, h) for h in range(5)], category=NeedCategory.EDUCATION
    )
    await needs_at(engine, child, [(Urgency.HIGH, h) for h in range(5)])
    seen, more = await walk(gql, 2, "URGENCY", {"categories": ["EDUCATION"]})
    assert seen == [gid("Need", n.id) for n in made]
    assert more == [True, True, False]


async def test_empty_list(gql: GraphQLClient, world: World) -> None:
    result = await gql(NEEDS, {}, as_="ngo")
    assert result.ok()["needs"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


async def test_default_page_size_is_twenty(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    for _ in range(21):
        await add_need(engine, child)
    result = await gql(NEEDS, {}, as_="ngo")
    page = result.ok()["needs"]
    assert len(page["edges"]) == 20
    assert page["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize("first", [0, -1, 101, 10_000])
async def test_page_size_out_of_bounds_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine, first: int
) -> None:
    await add_need(engine, await add_child(engine))
    error = refused(await gql(NEEDS, {"first": first}, as_="ngo"))
    assert error["extensions"]["field"] == "first"
    assert "100" in error["message"]


async def test_page_size_at_the_maximum_is_allowed(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_need(engine, await add_child(engine))
    result = await gql(NEEDS, {"first": 100}, as_="ngo")
    assert len(result.ok()["needs"]["edges"]) == 1


async def test_malformed_and_foreign_cursors_are_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    await add_need(engine, child)
    await add_child(engine)
    await feed_settled(engine)
    children = await gql("{ children(first: 1) { pageInfo { endCursor } } }", as_="ngo")
    child_cursor = children.ok()["children"]["pageInfo"]["endCursor"]
    changed = await gql(NEEDS, {"orderBy": "CHANGED", "first": 1}, as_="ngo")
    changed_cursor = changed.ok()["needs"]["pageInfo"]["endCursor"]
    assert child_cursor and changed_cursor

    for after in (
        "not a cursor!",
        "%%%",
        "bm90IGpzb24",  # base64 of "not json"
        encode_cursor("need.urgency", ["high"]),  # too short
        encode_cursor("need.urgency", ["urgent", "2024-03-01T08:00:00+00:00", str(uuid.uuid4())]),
        encode_cursor("need.urgency", ["high", "yesterday", str(uuid.uuid4())]),
        encode_cursor("need.urgency", ["high", "2024-03-01T08:00:00+00:00", "not-a-uuid"]),
        encode_cursor("need.urgency", [1, 2, 3]),
        child_cursor,  # from the children list
        changed_cursor,  # from the same list in another order
    ):
        result = await gql(NEEDS, {"first": 5, "after": after}, as_="ngo")
        error = refused(result)
        assert error["extensions"]["field"] == "after", after

    urgency_cursor = (await gql(NEEDS, {"first": 1}, as_="ngo")).ok()["needs"]["pageInfo"][
        "endCursor"
    ]
    need_id = str(uuid.uuid4())
    for after in (
        # What the change feed's cursors held before they held transaction ids: refused, not
        # misread, so an integration that kept one starts again (with changedSince) instead.
        encode_cursor("need.changed", ["2024-03-01T08:00:00+00:00", need_id]),
        encode_cursor("need.change_xid", ["2024-03-01T08:00:00+00:00", need_id]),
        encode_cursor("need.change_xid", ["1234", need_id]),
        encode_cursor("need.change_xid", [12.5, need_id]),
        encode_cursor("need.change_xid", [True, need_id]),
        encode_cursor("need.change_xid", [-1, need_id]),
        encode_cursor("need.change_xid", [2**63, need_id]),
        encode_cursor("need.change_xid", [None, need_id]),
        encode_cursor("need.change_xid", [1234, "not-a-uuid"]),
        encode_cursor("need.change_xid", [1234]),
        urgency_cursor,  # from the same list in another order
        child_cursor,
    ):
        result = await gql(NEEDS, {"first": 5, "after": after, "orderBy": "CHANGED"}, as_="ngo")
        error = refused(result)
        assert error["extensions"]["field"] == "after", after


@pytest.mark.parametrize(
    "jurisdiction", ["abc", "3607x", "123", "3607210", "36072110120100", " ", ""]
)
async def test_invalid_jurisdiction_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine, jurisdiction: str
) -> None:
    await add_need(engine, await add_child(engine))
    result = await gql(NEEDS, {"filter": {"jurisdiction": jurisdiction}}, as_="ngo")
    error = refused(result)
    assert error["extensions"]["field"] == "jurisdiction"


async def test_jurisdiction_in_full_width_digits_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_need(engine, await add_child(engine))
    result = await gql(NEEDS, {"filter": {"jurisdiction": "３６０７"}}, as_="ngo")
    refused(result)


# --- one need by id ---------------------------------------------------------------------------


async def test_need_by_id(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    need = await add_need(
        engine,
        await add_child(engine),
        category=NeedCategory.EDUCATION,
        urgency=Urgency.HIGH,
        description="学费补助",
    )
    result = await gql(NEED, {"id": gid("Need", need.id)}, as_="officer")
    assert result.ok()["need"] == {
        "id": gid("Need", need.id),
        "category": "EDUCATION",
        "urgency": "HIGH",
        "status": "OPEN",
        "version": 1,
        "description": "学费补助",
        "region": {"code": VILLAGE},
    }


async def test_a_divisible_need_reads_back_its_quantity_and_unit(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    due = date.today() + timedelta(days=30)
    need = await add_need(
        engine,
        await add_child(engine),
        category=NeedCategory.FINANCIAL,
        quantity=Decimal("1500.5"),
        unit=NeedUnit.YUAN,
        due_date=due,
    )
    query = "query($id: ID!) { need(id: $id) { quantity unit dueDate } }"
    result = await gql(query, {"id": gid("Need", need.id)}, as_="ngo")
    assert result.ok()["need"] == {
        "quantity": "1500.50",
        "unit": "YUAN",
        "dueDate": due.isoformat(),
    }


async def test_need_case_detail_is_for_officials(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await add_need(engine, await add_child(engine), description="心理疏导每周一次")
    await set_need(engine, need, status=NeedStatus.CANCELLED)
    query = """
    query($id: ID!) { need(id: $id) { status description cancelReason region { code } } }
    """
    as_officer = await gql(query, {"id": gid("Need", need.id)}, as_="officer")
    assert as_officer.ok()["need"] == {
        "status": "CANCELLED",
        "description": "心理疏导每周一次",
        "cancelReason": "cancelled in test setup",
        "region": {"code": VILLAGE},
    }
    for login in ("ngo", "business"):
        as_provider = await gql(query, {"id": gid("Need", need.id)}, as_=login)
        assert as_provider.ok()["need"] == {
            "status": "CANCELLED",
            "description": None,
            "cancelReason": None,
            "region": {"code": COUNTY},
        }


async def test_unknown_need_is_null(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    await add_need(engine, await add_child(engine))
    result = await gql(NEED, {"id": gid("Need", uuid.uuid4())}, as_="officer")
    assert result.errors == []
    assert result.data == {"need": None}


# A fixed ID, so that every test process collects the same test names.
UNKNOWN_CHILD = uuid.UUID("5e44076e-a8fb-4a4a-923a-b0e4e514b5d5")


@pytest.mark.parametrize(
    "raw",
    ["xyz", "", gid("Need", "not-a-uuid"), gid("Child", UNKNOWN_CHILD), gid("Region", VILLAGE)],
)
async def test_bad_need_id_is_refused(gql: GraphQLClient, world: World, raw: str) -> None:
    error = refused(await gql(NEED, {"id": raw}, as_="officer"))
    assert error["extensions"]["field"] == "id"


async def test_a_childs_id_is_not_a_needs_id(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    need = await add_need(engine, child)
    # The child's UUID under the Need type finds nothing; the child's own ID is refused.
    result = await gql(NEED, {"id": gid("Need", child.id)}, as_="officer")
    assert result.data == {"need": None} and result.errors == []
    error = refused(await gql(NEED, {"id": gid("Child", child.id)}, as_="officer"))
    assert "Need" in error["message"]
    assert need.child_id == child.id


# --- out of reach -----------------------------------------------------------------------------

REACH = """
query($mine: ID!, $theirs: ID!, $nowhere: ID!) {
  needs(first: 100) { edges { node { id } } }
  theirs: need(id: $theirs) { id description }
  nowhere: need(id: $nowhere) { id description }
  mine: need(id: $mine) { id }
  theirsNode: node(id: $theirs) { id ... on Need { status } }
  nowhereNode: node(id: $nowhere) { id }
  alsoTheirs: need(id: $theirs) { category }
}
"""


@pytest.mark.parametrize("login", ["ngo", "officer", "director", "business"])
async def test_a_need_in_another_county_is_as_if_it_did_not_exist(
    gql: GraphQLClient, world: World, engine: AsyncEngine, login: str
) -> None:
    mine = await add_need(engine, await add_child(engine, region=VILLAGE))
    theirs = await add_need(engine, await add_child(engine, region=FOREIGN_VILLAGE))
    variables = {
        "mine": gid("Need", mine.id),
        "theirs": gid("Need", theirs.id),
        "nowhere": gid("Need", uuid.uuid4()),
    }
    result = await gql(REACH, variables, as_=login)
    assert result.errors == []
    assert result.data == {
        "needs": {"edges": [{"node": {"id": gid("Need", mine.id)}}]},
        "theirs": None,
        "nowhere": None,
        "mine": {"id": gid("Need", mine.id)},
        "theirsNode": None,
        "nowhereNode": None,
        "alsoTheirs": None,
    }
    # Within the county's own jurisdiction filter it is not there either.
    assert await list_ids(gql, login, {"jurisdiction": FOREIGN_VILLAGE}) == []


async def test_the_other_countys_providers_do_see_it(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_need(engine, await add_child(engine, region=VILLAGE))
    theirs = await add_need(engine, await add_child(engine, region=FOREIGN_VILLAGE))
    for login in ("foreign_ngo", "foreign_officer"):
        assert await list_ids(gql, login) == [gid("Need", theirs.id)]
        result = await gql(NEED, {"id": gid("Need", theirs.id)}, as_=login)
        assert result.ok()["need"]["id"] == gid("Need", theirs.id)


async def test_roles_without_the_register_see_no_needs(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await add_need(engine, await add_child(engine))
    for login in ("admin", "auditor"):
        assert await list_ids(gql, login) == []
        result = await gql(NEED, {"id": gid("Need", need.id)}, as_=login)
        assert result.data == {"need": None} and result.errors == []


async def test_cursor_with_a_number_for_the_id_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_need(engine, await add_child(engine))
    forged = encode_cursor("need.urgency", ["high", "2024-03-01T08:00:00+00:00", 5])
    error = refused(await gql(NEEDS, {"after": forged}, as_="ngo"))
    assert error["extensions"]["field"] == "after"


async def test_changed_since_out_of_range_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_need(engine, await add_child(engine))
    result = await gql(NEEDS, {"filter": {"changedSince": "0001-01-01T00:00:00+14:00"}}, as_="ngo")
    refused(result)
