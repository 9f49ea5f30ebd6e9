"""Reading children: filters, order and pages, nodes, nested fields, and the tiers of rule 3."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.vocabulary import Guardianship, NeedCategory, NeedStatus, Urgency
from tests.graphql import GraphQLClient, GraphQLResponse
from tests.registry_data import add_child, add_need, gid, id_number_for, needs_at, set_need
from tests.world import (
    COUNTY,
    FOREIGN_VILLAGE,
    OTHER_COUNTY,
    OTHER_VILLAGE_SAME_TOWNSHIP,
    TOWNSHIP,
    VILLAGE,
    World,
    birth_date_for_age,
)

CHILDREN = """
query($filter: ChildFilter, $first: Int, $after: String) {
  children(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id code } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CHILD = """
query($id: ID!) { child(id: $id) { id code region { code } } }
"""

PURPOSE = "核实冬衣发放名单"


def refused(result: GraphQLResponse, code: str = "BAD_USER_INPUT") -> dict[str, Any]:
    assert result.codes == [code], result.errors
    assert result.data is None or all(value is None for value in result.data.values())
    return result.errors[0]


async def codes_of(
    gql: GraphQLClient, as_: str = "ngo", filter: dict[str, Any] | None = None
) -> list[str]:
    result = await gql(CHILDREN, {"filter": filter, "first": 100}, as_=as_)
    return [edge["node"]["code"] for edge in result.ok()["children"]["edges"]]


async def access_records(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT child_id, member_id, provider_id, client_id, purpose, accessed_at"
                " FROM access_records ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in rows]


# --- the list ---------------------------------------------------------------------------------


async def test_jurisdiction_filter(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    here = await add_child(engine, region=VILLAGE)
    neighbour = await add_child(engine, region=OTHER_VILLAGE_SAME_TOWNSHIP)
    foreign = await add_child(engine, region=FOREIGN_VILLAGE)

    assert set(await codes_of(gql)) == {here.code, neighbour.code}
    assert set(await codes_of(gql, filter={"jurisdiction": COUNTY})) == {here.code, neighbour.code}
    # Below the county, for an official: the NGO sees counties only (see test_tier_filters).
    assert set(await codes_of(gql, "officer", {"jurisdiction": TOWNSHIP})) == {
        here.code,
        neighbour.code,
    }
    assert await codes_of(gql, "officer", {"jurisdiction": VILLAGE}) == [here.code]
    assert await codes_of(gql, filter={"jurisdiction": OTHER_COUNTY}) == []
    assert await codes_of(gql, "foreign_ngo") == [foreign.code]
    assert await codes_of(gql, "foreign_officer", {"jurisdiction": "36"}) == [foreign.code]

    for bad in ("abc", "3607x", "123", ""):
        error = refused(await gql(CHILDREN, {"filter": {"jurisdiction": bad}}, as_="ngo"))
        assert error["extensions"]["field"] == "jurisdiction"


async def test_with_open_needs_filter(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    waiting = await add_child(engine)
    await add_need(engine, waiting)
    served = await add_child(engine)
    done = await add_need(engine, served)
    await set_need(engine, done, status=NeedStatus.FULFILLED)
    claimed = await add_child(engine)
    await set_need(engine, await add_need(engine, claimed), status=NeedStatus.CLAIMED)
    never = await add_child(engine)

    assert await codes_of(gql, filter={"withOpenNeeds": True}) == [waiting.code]
    assert set(await codes_of(gql, filter={"withOpenNeeds": False})) == {
        served.code,
        claimed.code,
        never.code,
    }
    assert len(await codes_of(gql, filter={"withOpenNeeds": None})) == 4


async def test_guardianship_filter_is_for_officials_only(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    grandparents = await add_child(engine, guardianship=Guardianship.GRANDPARENTS)
    relative = await add_child(engine, guardianship=Guardianship.RELATIVE)
    one_parent = await add_child(
        engine, guardianship=Guardianship.ONE_PARENT, father_away=True, mother_away=False
    )
    filter = {"guardianships": ["GRANDPARENTS", "ONE_PARENT"]}

    for login in ("ngo", "ngo_worker", "business", "auditor", "admin"):
        result = await gql(CHILDREN, {"filter": filter}, as_=login)
        error = refused(result, "FORBIDDEN")
        assert "guardianship" in error["message"]

    for login in ("officer", "director"):
        assert set(await codes_of(gql, login, filter)) == {grandparents.code, one_parent.code}
        relatives = await codes_of(gql, login, {"guardianships": ["RELATIVE"]})
        assert relatives == [relative.code]
    # Combined with other conditions, and with a jurisdiction the official does not hold.
    assert await codes_of(gql, "officer", {**filter, "jurisdiction": OTHER_COUNTY}) == []


async def test_children_are_ordered_by_code_and_paged(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    made = [await add_child(engine, region=VILLAGE) for _ in range(4)]
    made += [await add_child(engine, region=OTHER_VILLAGE_SAME_TOWNSHIP) for _ in range(3)]
    await add_child(engine, region=FOREIGN_VILLAGE)
    everything = await codes_of(gql)
    assert everything == sorted(child.code for child in made)
    assert all(code.startswith(f"C{COUNTY}-") for code in everything)

    for size in (1, 3, 7):
        seen: list[str] = []
        more: list[bool] = []
        after = None
        while True:
            result = await gql(CHILDREN, {"first": size, "after": after}, as_="ngo")
            connection = result.ok()["children"]
            edges = connection["edges"]
            assert connection["pageInfo"]["endCursor"] == (edges[-1]["cursor"] if edges else None)
            seen += [edge["node"]["code"] for edge in edges]
            more.append(connection["pageInfo"]["hasNextPage"])
            if not more[-1]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert seen == everything, f"pages of {size}"
        assert len(more) == -(-7 // size)


async def test_children_page_arguments_are_checked(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_need(engine, await add_child(engine))
    needs = await gql("{ needs(first: 1) { pageInfo { endCursor } } }", as_="ngo")
    need_cursor = needs.ok()["needs"]["pageInfo"]["endCursor"]
    for variables in ({"first": 0}, {"first": 101}, {"after": need_cursor}, {"after": "%%"}):
        refused(await gql(CHILDREN, variables, as_="ngo"))


# --- one child, nodes ---------------------------------------------------------------------------


async def test_child_by_id(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    child = await add_child(engine)
    need = await add_need(engine, child)
    found = await gql(CHILD, {"id": gid("Child", child.id)}, as_="officer")
    assert found.ok()["child"] == {
        "id": gid("Child", child.id),
        "code": child.code,
        "region": {"code": VILLAGE},
    }
    unknown = await gql(CHILD, {"id": gid("Child", uuid.uuid4())}, as_="officer")
    assert unknown.data == {"child": None} and unknown.errors == []
    for raw in ("xyz", gid("Need", need.id), gid("Child", "C360721-0001")):
        error = refused(await gql(CHILD, {"id": raw}, as_="officer"))
        assert error["extensions"]["field"] == "id"


NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Child { code }
    ... on Need { category child { code } }
    ... on Region { code name level }
    ... on Provider { name kind }
  }
}
"""


async def test_node_finds_each_type(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    child = await add_child(engine)
    need = await add_need(engine, child, category=NeedCategory.PSYCHOLOGICAL)
    ngo = world.providers["ngo"]

    async def node(raw: str) -> Any:
        return (await gql(NODE, {"id": raw}, as_="ngo")).ok()["node"]

    assert await node(gid("Child", child.id)) == {
        "__typename": "Child",
        "id": gid("Child", child.id),
        "code": child.code,
    }
    assert await node(gid("Need", need.id)) == {
        "__typename": "Need",
        "id": gid("Need", need.id),
        "category": "PSYCHOLOGICAL",
        "child": {"code": child.code},
    }
    assert await node(gid("Region", TOWNSHIP)) == {
        "__typename": "Region",
        "id": gid("Region", TOWNSHIP),
        "code": TOWNSHIP,
        "name": "江口镇",
        "level": "TOWNSHIP",
    }
    assert await node(gid("Provider", ngo)) == {
        "__typename": "Provider",
        "id": gid("Provider", ngo),
        "name": "春苗助学会",
        "kind": "NGO",
    }
    # The IDs the API hands out lead back to the same objects.
    listed = await gql("{ children { nodes { id } } }", as_="ngo")
    assert (await node(listed.ok()["children"]["nodes"][0]["id"]))["code"] == child.code

    for missing in (
        gid("Child", uuid.uuid4()),
        gid("Need", uuid.uuid4()),
        gid("Provider", uuid.uuid4()),
        gid("Claim", uuid.uuid4()),
        gid("Delivery", uuid.uuid4()),
        gid("Region", "999999"),
    ):
        result = await gql(NODE, {"id": missing}, as_="ngo")
        assert result.data == {"node": None} and result.errors == [], missing
    for bad in ("xyz", gid("Pledge", uuid.uuid4()), gid("Child", "12")):
        refused(await gql(NODE, {"id": bad}, as_="ngo"))


# --- nested fields ----------------------------------------------------------------------------


async def test_a_childs_needs_by_status_most_urgent_first(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    other = await add_child(engine)
    low, critical, high, cancelled = await needs_at(
        engine,
        child,
        [(Urgency.LOW, 1), (Urgency.CRITICAL, 3), (Urgency.HIGH, 2), (Urgency.CRITICAL, 0)],
    )
    await set_need(engine, cancelled, status=NeedStatus.CANCELLED)
    theirs = await add_need(engine, other)

    query = """
    query($id: ID!) {
      child(id: $id) {
        all: needs { id status }
        open: needs(statuses: [OPEN]) { id urgency }
        closed: needs(statuses: [CANCELLED, FULFILLED]) { id status }
        none: needs(statuses: [FULFILLED]) { id }
      }
    }
    """
    result = await gql(query, {"id": gid("Child", child.id)}, as_="ngo")
    found = result.ok()["child"]
    assert [n["id"] for n in found["all"]] == [
        gid("Need", n.id) for n in (cancelled, critical, high, low)
    ]
    assert found["open"] == [
        {"id": gid("Need", critical.id), "urgency": "CRITICAL"},
        {"id": gid("Need", high.id), "urgency": "HIGH"},
        {"id": gid("Need", low.id), "urgency": "LOW"},
    ]
    assert found["closed"] == [{"id": gid("Need", cancelled.id), "status": "CANCELLED"}]
    assert found["none"] == []
    assert gid("Need", theirs.id) not in {n["id"] for n in found["all"]}


async def test_needs_of_many_children_stay_with_their_child(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    expected: dict[str, set[str]] = {}
    for count in (0, 1, 2, 3):
        child = await add_child(engine)
        made = [await add_need(engine, child) for _ in range(count)]
        expected[child.code] = {gid("Need", n.id) for n in made}

    query = "{ children { nodes { code needs(statuses: [OPEN]) { id child { code } } } } }"
    result = await gql(query, as_="ngo")
    nodes = result.ok()["children"]["nodes"]
    assert {n["code"]: {need["id"] for need in n["needs"]} for n in nodes} == expected
    for node in nodes:
        assert all(need["child"]["code"] == node["code"] for need in node["needs"])


NEED_WITH_CHILD = """
query($id: ID!) {
  need(id: $id) {
    region { code level }
    child { code region { code level name parent { code } } county { code } }
  }
}
"""


async def test_need_child_region(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    need = await add_need(engine, await add_child(engine, region=VILLAGE))
    as_officer = (await gql(NEED_WITH_CHILD, {"id": gid("Need", need.id)}, as_="officer")).ok()
    assert as_officer["need"]["region"] == {"code": VILLAGE, "level": "VILLAGE"}
    assert as_officer["need"]["child"]["region"] == {
        "code": VILLAGE,
        "level": "VILLAGE",
        "name": "旱江村",
        "parent": {"code": TOWNSHIP},
    }
    assert as_officer["need"]["child"]["county"] == {"code": COUNTY}

    as_ngo = (await gql(NEED_WITH_CHILD, {"id": gid("Need", need.id)}, as_="ngo")).ok()
    assert as_ngo["need"]["region"] == {"code": COUNTY, "level": "COUNTY"}
    assert as_ngo["need"]["child"]["region"] == {
        "code": COUNTY,
        "level": "COUNTY",
        "name": "赣县区",
        "parent": {"code": "3607"},
    }
    assert as_ngo["need"]["child"]["county"] == {"code": COUNTY}


# --- tiers of personal data (rule 3) ----------------------------------------------------------

TIERED = """
query($id: ID!, $purpose: String!) {
  child(id: $id) {
    code ageBand sex status
    region { code level }
    county { code }
    birthDate guardianship school
    parentsAbsence { fatherAway motherAway since workLocation }
    identity(purpose: $purpose) {
      fullName idNumberTail address guardianName guardianRelation guardianPhone
    }
    needs { category status urgency description }
  }
}
"""


@pytest.mark.parametrize("login", ["ngo", "ngo_worker", "business"])
async def test_providers_see_only_pseudonymous_facts(
    gql: GraphQLClient, world: World, engine: AsyncEngine, login: str
) -> None:
    child = await add_child(engine, age=9)
    await add_need(engine, child, category=NeedCategory.EDUCATION, description="学费补助")

    result = await gql(TIERED, {"id": gid("Child", child.id), "purpose": PURPOSE}, as_=login)
    assert result.ok()["child"] == {
        "code": child.code,
        "ageBand": "6-11",
        "sex": None,
        "status": "ACTIVE",
        "region": {"code": COUNTY, "level": "COUNTY"},
        "county": {"code": COUNTY},
        "birthDate": None,
        "guardianship": None,
        "school": None,
        "parentsAbsence": None,
        "identity": None,
        "needs": [
            {"category": "EDUCATION", "status": "OPEN", "urgency": "MEDIUM", "description": None}
        ],
    }
    assert await access_records(engine) == []


@pytest.mark.parametrize(("login", "provider"), [("officer", "gan_bureau"), ("director", None)])
async def test_officials_see_case_detail_and_identity(
    gql: GraphQLClient, world: World, engine: AsyncEngine, login: str, provider: str | None
) -> None:
    child = await add_child(
        engine,
        age=13,
        id_number=id_number_for(VILLAGE, birth_date_for_age(13), sequence=42),
        school="江口中心小学",
        full_name="李小红",
        address="江口镇旱江村3组",
        guardian_name="李大山",
        guardian_relation="祖父",
        guardian_phone="13800001111",
    )
    await add_need(engine, child, category=NeedCategory.EDUCATION, description="学费补助")

    result = await gql(TIERED, {"id": gid("Child", child.id), "purpose": PURPOSE}, as_=login)
    assert result.ok()["child"] == {
        "code": child.code,
        "ageBand": "12-13",
        "sex": None,
        "status": "ACTIVE",
        "region": {"code": VILLAGE, "level": "VILLAGE"},
        "county": {"code": COUNTY},
        "birthDate": birth_date_for_age(13).isoformat(),
        "guardianship": "GRANDPARENTS",
        "school": "江口中心小学",
        "parentsAbsence": {
            "fatherAway": True,
            "motherAway": True,
            "since": date(2021, 2, 1).isoformat(),
            "workLocation": "广东东莞",
        },
        "identity": {
            "fullName": "李小红",
            "idNumberTail": id_number_for(VILLAGE, birth_date_for_age(13), sequence=42)[-4:],
            "address": "江口镇旱江村3组",
            "guardianName": "李大山",
            "guardianRelation": "祖父",
            "guardianPhone": "13800001111",
        },
        "needs": [
            {
                "category": "EDUCATION",
                "status": "OPEN",
                "urgency": "MEDIUM",
                "description": "学费补助",
            }
        ],
    }
    records = await access_records(engine)
    assert len(records) == 1
    record = records[0]
    assert record["child_id"] == child.id
    assert record["member_id"] == world.members[login]
    assert record["provider_id"] == world.providers[provider or "village_office"]
    assert record["client_id"] == gql.client_id_for(login)
    assert record["purpose"] == PURPOSE


async def test_every_identity_read_writes_one_access_record(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    made = [await add_child(engine, full_name=name) for name in ("张一", "张二", "张三")]
    query = """
    query($purpose: String!) {
      children { nodes { code identity(purpose: $purpose) { fullName } } }
    }
    """
    result = await gql(query, {"purpose": "  家访核实  "}, as_="officer")
    nodes = result.ok()["children"]["nodes"]
    assert {n["code"]: n["identity"]["fullName"] for n in nodes} == {
        made[0].code: "张一",
        made[1].code: "张二",
        made[2].code: "张三",
    }
    records = await access_records(engine)
    assert sorted(r["child_id"] for r in records) == sorted(c.id for c in made)
    assert {r["purpose"] for r in records} == {"家访核实"}

    # A second request is a second read, recorded again; a child asked twice in one request
    # for the same purpose is one read.
    twice = """
    query($id: ID!) {
      child(id: $id) {
        a: identity(purpose: "家访核实") { fullName }
        b: identity(purpose: "家访核实") { fullName }
        c: identity(purpose: "发放助学金") { fullName }
      }
    }
    """
    result = await gql(twice, {"id": gid("Child", made[0].id)}, as_="officer")
    assert result.ok()["child"] == {
        "a": {"fullName": "张一"},
        "b": {"fullName": "张一"},
        "c": {"fullName": "张一"},
    }
    records = await access_records(engine)
    assert len(records) == 5
    assert sorted(r["purpose"] for r in records[3:]) == ["发放助学金", "家访核实"]
    assert {r["child_id"] for r in records[3:]} == {made[0].id}


@pytest.mark.parametrize("purpose", ["", "ab", "  ab  ", "x" * 201])
async def test_identity_needs_a_purpose(
    gql: GraphQLClient, world: World, engine: AsyncEngine, purpose: str
) -> None:
    child = await add_child(engine)
    query = """
    query($id: ID!, $purpose: String!) {
      child(id: $id) { code identity(purpose: $purpose) { fullName } }
    }
    """
    result = await gql(query, {"id": gid("Child", child.id), "purpose": purpose}, as_="officer")
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "purpose"
    assert result.errors[0]["path"] == ["child", "identity"]
    # The rest of the child still comes back; the identity does not, and nothing is recorded.
    assert result.data == {"child": {"code": child.code, "identity": None}}
    assert await access_records(engine) == []


async def test_a_foreign_officer_sees_nothing_of_this_county(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine, region=VILLAGE)
    need = await add_need(engine, child)
    query = """
    query($child: ID!, $need: ID!, $purpose: String!) {
      children { nodes { code } }
      needs { nodes { id } }
      child(id: $child) { code identity(purpose: $purpose) { fullName } }
      need(id: $need) { id child { code } }
      childNode: node(id: $child) { id }
      needNode: node(id: $need) { id }
    }
    """
    variables = {"child": gid("Child", child.id), "need": gid("Need", need.id), "purpose": PURPOSE}
    result = await gql(query, variables, as_="foreign_officer")
    assert result.errors == []
    assert result.data == {
        "children": {"nodes": []},
        "needs": {"nodes": []},
        "child": None,
        "need": None,
        "childNode": None,
        "needNode": None,
    }
    filtered = await gql(CHILDREN, {"filter": {"jurisdiction": VILLAGE}}, as_="foreign_officer")
    assert filtered.ok()["children"]["edges"] == []
    assert await access_records(engine) == []
    # While this county's officer, asking the same, sees it all.
    own = await gql(query, variables, as_="officer")
    assert own.ok()["child"]["identity"] == {"fullName": "王小明"}
