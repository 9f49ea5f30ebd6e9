"""The hub as a federation subgraph: ``_entities`` reads like ``node``, under the same rules.

A gateway resolves references to the hub's entities by calling ``_entities`` with the caller's
token. Anyone may call it directly too, so it must give away nothing that ``node`` would not:
a record outside the caller's reach, one that does not exist and one of another county all come
back null, and without a token nothing comes back at all.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import GlobalID

from tests.graphql import GraphQLClient, GraphQLResponse
from tests.query_counter import count_statements
from tests.registry_data import add_child, add_need, gid
from tests.world import COUNTY, FOREIGN_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP, VILLAGE, World

ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Child { id code school county { code } }
    ... on Need { id category description child { id } }
    ... on Provider { id name }
    ... on Region { code name level }
  }
}
"""


def child_ref(child_id: str) -> dict[str, str]:
    return {"__typename": "Child", "id": child_id}


def need_ref(need_id: str) -> dict[str, str]:
    return {"__typename": "Need", "id": need_id}


async def entities(
    gql: GraphQLClient, representations: list[Any], as_: str | None = "officer"
) -> GraphQLResponse:
    return await gql(ENTITIES, {"representations": representations}, as_=as_)


@pytest.fixture
async def records(engine: AsyncEngine, world: World) -> dict[str, str]:
    """Global IDs of a child and a need in each county, and of ones that do not exist."""
    home = await add_child(engine, region=VILLAGE)
    foreign = await add_child(engine, region=FOREIGN_VILLAGE, full_name="李小红")
    return {
        "home_child": gid("Child", home.id),
        "home_need": gid("Need", (await add_need(engine, home)).id),
        "foreign_child": gid("Child", foreign.id),
        "foreign_need": gid("Need", (await add_need(engine, foreign)).id),
        "missing_child": gid("Child", uuid.uuid4()),
        "missing_need": gid("Need", uuid.uuid4()),
    }


async def test_service_sdl_answers_without_a_token_and_declares_the_entities(
    gql: GraphQLClient,
) -> None:
    response = await gql("{ _service { sdl } }")
    sdl = response.ok()["_service"]["sdl"]
    for entity in (
        'type Child implements Node @key(fields: "id")',
        'type Need implements Node @key(fields: "id")',
        'type Provider implements Node @key(fields: "id")',
        'type Region implements Node @key(fields: "code")',
    ):
        assert entity in sdl
    assert "https://specs.apollo.dev/federation/v2.7" in sdl


async def test_entities_without_a_token_is_refused_whole(
    gql: GraphQLClient, records: dict[str, str]
) -> None:
    response = await entities(gql, [child_ref(records["home_child"])], as_=None)
    assert response.codes == ["UNAUTHENTICATED"]
    assert response.data is None
    # A token that does not verify is no better than none.
    forged = await gql(
        ENTITIES,
        {"representations": [child_ref(records["home_child"])]},
        token="not-a-token",
    )
    assert forged.codes == ["UNAUTHENTICATED"] and forged.data is None


async def test_entities_resolve_own_records_and_null_for_foreign_and_unknown(
    gql: GraphQLClient, records: dict[str, str], world: World
) -> None:
    provider = str(GlobalID("Provider", str(world.providers["gan_bureau"])))
    response = await entities(
        gql,
        [
            child_ref(records["home_child"]),
            child_ref(records["foreign_child"]),
            child_ref(records["missing_child"]),
            need_ref(records["home_need"]),
            need_ref(records["foreign_need"]),
            need_ref(records["missing_need"]),
            {"__typename": "Provider", "id": provider},
            {"__typename": "Region", "code": COUNTY},
            {"__typename": "Region", "code": "999999"},
        ],
    )
    found = response.ok()["_entities"]
    assert found[0]["id"] == records["home_child"]
    assert found[0]["school"] == "江口中心小学"  # an official of the county sees case detail
    assert found[0]["county"] == {"code": COUNTY}
    assert found[1] is None and found[2] is None
    assert found[3]["id"] == records["home_need"]
    assert found[3]["child"] == {"id": records["home_child"]}
    assert found[4] is None and found[5] is None
    assert found[6] == {"__typename": "Provider", "id": provider, "name": "赣县区民政局"}
    assert found[7] == {"__typename": "Region", "code": COUNTY, "name": "赣县区", "level": "COUNTY"}
    assert found[8] is None


@pytest.mark.parametrize("kind", ["child", "need"])
async def test_a_foreign_record_reads_like_a_missing_one_through_entities(
    gql: GraphQLClient, records: dict[str, str], kind: str
) -> None:
    ref = child_ref if kind == "child" else need_ref
    for who in ("ngo_worker", "officer", "business"):
        foreign = await entities(gql, [ref(records[f"foreign_{kind}"])], as_=who)
        missing = await entities(gql, [ref(records[f"missing_{kind}"])], as_=who)
        assert foreign.data == missing.data == {"_entities": [None]}, who
        assert foreign.errors == missing.errors == [], who
    # ...and the other county's own officer does see it.
    theirs = await entities(gql, [ref(records[f"foreign_{kind}"])], as_="foreign_officer")
    assert theirs.ok()["_entities"][0]["id"] == records[f"foreign_{kind}"]


@pytest.mark.parametrize(
    "who", ["officer", "director", "ngo_worker", "business", "foreign_officer", "admin", "auditor"]
)
async def test_entities_find_exactly_what_node_finds(
    gql: GraphQLClient, records: dict[str, str], world: World, who: str
) -> None:
    providers = [str(GlobalID("Provider", str(pid))) for pid in world.providers.values()]
    ids = [*records.values(), *providers]
    by_node = []
    for global_id in ids:
        found = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": global_id}, as_=who)
        by_node.append(found.ok()["node"])
    representations = [
        {"__typename": GlobalID.from_id(global_id).type_name, "id": global_id} for global_id in ids
    ]
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Node { id } } }"""
    by_reference = (await gql(query, {"r": representations}, as_=who)).ok()["_entities"]
    assert by_reference == by_node
    assert None in by_node and any(by_node)  # each sees some, and misses some (the missing ones)


async def test_entities_read_in_the_readers_tier(
    gql: GraphQLClient, records: dict[str, str]
) -> None:
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Child { code school identity(purpose: "tutoring match") { fullName } }
      ... on Need { category description } } }"""
    representations = [child_ref(records["home_child"]), need_ref(records["home_need"])]
    official = (await gql(query, {"r": representations}, as_="officer")).ok()["_entities"]
    assert official[0]["school"] == "江口中心小学"
    assert official[0]["identity"] == {"fullName": "王小明"}  # and an access record is written
    assert official[1]["description"] == "冬季棉衣一件"
    business = (await gql(query, {"r": representations}, as_="business")).ok()["_entities"]
    assert business[0]["code"] == official[0]["code"]
    assert business[0]["school"] is None and business[0]["identity"] is None
    assert business[1] == {"category": "MATERIAL", "description": None}


async def test_aliases_and_repeats_resolve_each_on_its_own(
    gql: GraphQLClient, records: dict[str, str]
) -> None:
    query = """query($a: [_Any!]!, $b: [_Any!]!) {
      mine: _entities(representations: $a) { ... on Child { id } }
      theirs: _entities(representations: $b) { ... on Child { id } }
    }"""
    response = await gql(
        query,
        {
            "a": [child_ref(records["home_child"]), child_ref(records["home_child"])],
            "b": [child_ref(records["foreign_child"])],
        },
        as_="ngo",
    )
    data = response.ok()
    assert data["mine"] == [{"id": records["home_child"]}, {"id": records["home_child"]}]
    assert data["theirs"] == [None]


@pytest.mark.parametrize(
    ("representation", "message"),
    [
        ({"__typename": "Child", "id": "not a global id"}, "the ID is malformed"),
        ({"__typename": "Child", "id": gid("Need", uuid.uuid4())}, "not a Child's ID"),
        ({"__typename": "Child", "id": gid("Child", "42")}, "the ID is malformed"),
        ({"__typename": "Child", "id": 42}, "carries id as strings"),
        ({"__typename": "Child"}, "carries id as strings"),
        ({"__typename": "Child", "id": "x", "code": "C1"}, "carries id as strings"),
        ({"__typename": "Region", "code": "36a"}, "region code"),
        ({"__typename": "Member", "id": "x"}, "__typename is one of"),
        ({"id": "x"}, "__typename is one of"),
        ("Child", "a representation is an object"),
    ],
)
async def test_a_malformed_representation_is_that_items_bad_input(
    gql: GraphQLClient, records: dict[str, str], representation: Any, message: str
) -> None:
    response = await entities(
        gql, [child_ref(records["home_child"]), representation, need_ref(records["home_need"])]
    )
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]
    assert response.errors[0]["path"] == ["_entities", 1]
    assert response.data is not None
    found = response.data["_entities"]
    assert found[0]["id"] == records["home_child"] and found[1] is None
    assert found[2]["id"] == records["home_need"]


async def test_many_references_load_in_one_batch(
    gql: GraphQLClient, engine: AsyncEngine, world: World
) -> None:
    children = [
        gid("Child", (await add_child(engine, region=village)).id)
        for village in [VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP] * 10
    ]
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Child { id region { name } } } }"""

    async def statements_for(ids: list[str]) -> int:
        with count_statements(engine) as statements:
            found = (await gql(query, {"r": [child_ref(i) for i in ids]}, as_="officer")).ok()
        assert [entity["id"] for entity in found["_entities"]] == ids
        return len(statements)

    assert await statements_for(children[:2]) == await statements_for(children)
