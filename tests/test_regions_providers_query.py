"""Reading the region tree, the provider directory, and who the viewer is."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import from_base64

from hub.db.models import Provider, Region, RoleGrant
from hub.domain.pagination import encode_cursor
from hub.vocabulary import NeedCategory, ProviderKind, RegionLevel, Role
from tests.graphql import GraphQLClient, GraphQLResponse
from tests.world import (
    CITY,
    COUNTY,
    FOREIGN_VILLAGE,
    OTHER_COUNTY,
    OTHER_VILLAGE_SAME_TOWNSHIP,
    PROVINCE,
    TOWNSHIP,
    VILLAGE,
    World,
)

REGIONS = """
query($parentCode: String, $first: Int, $after: String) {
  regions(parentCode: $parentCode, first: $first, after: $after) {
    edges { cursor node { code name level } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

REGION = """
query($code: String!) {
  region(code: $code) { code name level parent { code name } ancestors { code level } }
}
"""

PROVIDERS = """
query($filter: ProviderFilter, $first: Int, $after: String) {
  providers(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id name kind status jurisdictions categories } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def refused(result: GraphQLResponse, code: str = "BAD_USER_INPUT") -> dict[str, Any]:
    assert result.codes == [code], result.errors
    assert result.data is None or all(value is None for value in result.data.values())
    return result.errors[0]


async def add_provinces(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(Region),
            [
                {
                    "code": "44",
                    "name": "广东省",
                    "level": RegionLevel.PROVINCE,
                    "parent_code": None,
                },
                {
                    "code": "11",
                    "name": "北京市",
                    "level": RegionLevel.PROVINCE,
                    "parent_code": None,
                },
                {"code": "4403", "name": "深圳市", "level": RegionLevel.CITY, "parent_code": "44"},
            ],
        )


# --- regions ----------------------------------------------------------------------------------


async def region_codes(gql: GraphQLClient, parent: str | None, as_: str = "ngo") -> list[str]:
    result = await gql(REGIONS, {"parentCode": parent, "first": 100}, as_=as_)
    return [edge["node"]["code"] for edge in result.ok()["regions"]["edges"]]


async def test_regions_are_the_provinces_or_the_children_of_a_code(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await add_provinces(engine)
    result = await gql(REGIONS, {}, as_="ngo")
    assert [edge["node"] for edge in result.ok()["regions"]["edges"]] == [
        {"code": "11", "name": "北京市", "level": "PROVINCE"},
        {"code": "36", "name": "江西省", "level": "PROVINCE"},
        {"code": "44", "name": "广东省", "level": "PROVINCE"},
    ]
    assert await region_codes(gql, PROVINCE) == [CITY]
    assert await region_codes(gql, CITY) == [COUNTY, OTHER_COUNTY]
    assert await region_codes(gql, TOWNSHIP) == [VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP]
    assert await region_codes(gql, "44") == ["4403"]
    # Below a village, or under a code nobody has, there is nothing.
    assert await region_codes(gql, VILLAGE) == []
    assert await region_codes(gql, "999999") == []
    # Region names are public: any principal reads the tree, wherever its jurisdiction.
    assert await region_codes(gql, CITY, as_="foreign_ngo") == [COUNTY, OTHER_COUNTY]
    assert await region_codes(gql, "44", as_="admin") == ["4403"]


@pytest.mark.parametrize("bad", ["abc", "3607x", "123", "3607210"])
async def test_regions_under_a_bad_code_are_refused(
    gql: GraphQLClient, world: World, bad: str
) -> None:
    error = refused(await gql(REGIONS, {"parentCode": bad}, as_="ngo"))
    assert error["extensions"]["field"] == "parentCode"


async def test_regions_are_paged(gql: GraphQLClient, world: World, engine: AsyncEngine) -> None:
    await add_provinces(engine)
    first = await gql(REGIONS, {"first": 2}, as_="ngo")
    page = first.ok()["regions"]
    assert [e["node"]["code"] for e in page["edges"]] == ["11", "36"]
    assert page["pageInfo"] == {"hasNextPage": True, "endCursor": page["edges"][-1]["cursor"]}
    second = await gql(REGIONS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, as_="ngo")
    page = second.ok()["regions"]
    assert [e["node"]["code"] for e in page["edges"]] == ["44"]
    assert page["pageInfo"]["hasNextPage"] is False

    villages = await gql(REGIONS, {"parentCode": TOWNSHIP, "first": 1}, as_="ngo")
    cursor = villages.ok()["regions"]["pageInfo"]["endCursor"]
    rest = await gql(REGIONS, {"parentCode": TOWNSHIP, "first": 1, "after": cursor}, as_="ngo")
    assert rest.ok()["regions"]["edges"][0]["node"]["code"] == OTHER_VILLAGE_SAME_TOWNSHIP
    assert rest.ok()["regions"]["pageInfo"]["hasNextPage"] is False

    for variables in ({"first": 0}, {"first": 101}, {"after": "%%"}):
        refused(await gql(REGIONS, variables, as_="ngo"))
    providers = await gql(PROVIDERS, {"first": 1}, as_="ngo")
    provider_cursor = providers.ok()["providers"]["pageInfo"]["endCursor"]
    refused(await gql(REGIONS, {"after": provider_cursor}, as_="ngo"))


async def test_region_with_parent_and_ancestors(gql: GraphQLClient, world: World) -> None:
    village = await gql(REGION, {"code": VILLAGE}, as_="ngo")
    assert village.ok()["region"] == {
        "code": VILLAGE,
        "name": "旱江村",
        "level": "VILLAGE",
        "parent": {"code": TOWNSHIP, "name": "江口镇"},
        "ancestors": [
            {"code": PROVINCE, "level": "PROVINCE"},
            {"code": CITY, "level": "CITY"},
            {"code": COUNTY, "level": "COUNTY"},
            {"code": TOWNSHIP, "level": "TOWNSHIP"},
        ],
    }
    county = await gql(REGION, {"code": OTHER_COUNTY}, as_="ngo")
    assert county.ok()["region"] == {
        "code": OTHER_COUNTY,
        "name": "兴国县",
        "level": "COUNTY",
        "parent": {"code": CITY, "name": "赣州市"},
        "ancestors": [{"code": PROVINCE, "level": "PROVINCE"}, {"code": CITY, "level": "CITY"}],
    }
    province = await gql(REGION, {"code": PROVINCE}, as_="ngo")
    assert province.ok()["region"] == {
        "code": PROVINCE,
        "name": "江西省",
        "level": "PROVINCE",
        "parent": None,
        "ancestors": [],
    }
    # Surrounding spaces are forgiven.
    padded = await gql(REGION, {"code": f" {FOREIGN_VILLAGE} "}, as_="ngo")
    assert padded.ok()["region"]["code"] == FOREIGN_VILLAGE


async def test_unknown_region_is_null(gql: GraphQLClient, world: World) -> None:
    for code in ("44", "360799", "360721101299"):
        result = await gql(REGION, {"code": code}, as_="ngo")
        assert result.errors == []
        assert result.data == {"region": None}


@pytest.mark.parametrize("bad", ["abc", "3607x", "123", "", "3607211012010"])
async def test_bad_region_code_is_refused(gql: GraphQLClient, world: World, bad: str) -> None:
    error = refused(await gql(REGION, {"code": bad}, as_="ngo"))
    assert error["extensions"]["field"] == "code"


# --- providers --------------------------------------------------------------------------------

NAMES = {
    "gan_bureau": "赣县区民政局",
    "xing_bureau": "兴国县民政局",
    "village_office": "江口镇儿童之家",
    "ngo": "春苗助学会",
    "xing_ngo": "兴国互助社",
    "business": "赣南制衣厂",
    "operations": "Hub platform operations",
}


async def provider_names(
    gql: GraphQLClient, filter: dict[str, Any] | None = None, as_: str = "ngo"
) -> set[str]:
    result = await gql(PROVIDERS, {"filter": filter, "first": 100}, as_=as_)
    names = [edge["node"]["name"] for edge in result.ok()["providers"]["edges"]]
    assert len(names) == len(set(names))
    return set(names)


def named(*keys: str) -> set[str]:
    return {NAMES[key] for key in keys}


async def test_provider_directory(gql: GraphQLClient, world: World) -> None:
    result = await gql(PROVIDERS, {"filter": {"kinds": ["NGO"]}}, as_="business")
    nodes = {edge["node"]["name"]: edge["node"] for edge in result.ok()["providers"]["edges"]}
    assert nodes[NAMES["ngo"]] == {
        "id": nodes[NAMES["ngo"]]["id"],
        "name": "春苗助学会",
        "kind": "NGO",
        "status": "ACTIVE",
        "jurisdictions": [CITY],
        "categories": [category.name for category in NeedCategory],
    }
    assert set(nodes) == named("ngo", "xing_ngo")
    # Every role reads the whole directory, wherever it works.
    for login in ("ngo", "foreign_officer", "admin", "auditor"):
        assert await provider_names(gql, as_=login) == set(NAMES.values())


async def test_provider_kinds_filter(gql: GraphQLClient, world: World) -> None:
    assert await provider_names(gql, {"kinds": ["GOVERNMENT", "BUSINESS"]}) == named(
        "gan_bureau", "xing_bureau", "operations", "business"
    )
    assert await provider_names(gql, {"kinds": ["VILLAGE_OFFICE"]}) == named("village_office")
    assert await provider_names(gql, {"kinds": ["SCHOOL"]}) == set()


async def test_provider_category_filter(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(Provider)
            .where(Provider.id == world.providers["xing_ngo"])
            .values(categories=[NeedCategory.EDUCATION, NeedCategory.PSYCHOLOGICAL])
        )
    everyone = set(NAMES.values())
    assert await provider_names(gql, {"category": "MEDICAL"}) == everyone - named("xing_ngo")
    assert await provider_names(gql, {"category": "PSYCHOLOGICAL"}) == everyone
    assert await provider_names(gql, {"category": "MEDICAL", "kinds": ["NGO"]}) == named("ngo")


async def test_provider_region_filter_finds_jurisdictions_above_equal_and_below(
    gql: GraphQLClient, world: World
) -> None:
    # operations works in the province, ngo in the city (both above the county), gan_bureau and
    # business in the county itself, village_office in a township below it.
    gan_county = named("operations", "ngo", "gan_bureau", "business", "village_office")
    xing_county = named("operations", "ngo", "xing_bureau", "xing_ngo")
    assert await provider_names(gql, {"region": COUNTY}) == gan_county
    assert await provider_names(gql, {"region": TOWNSHIP}) == gan_county
    assert await provider_names(gql, {"region": VILLAGE}) == gan_county
    assert await provider_names(gql, {"region": OTHER_COUNTY}) == xing_county
    assert await provider_names(gql, {"region": FOREIGN_VILLAGE}) == xing_county
    assert await provider_names(gql, {"region": CITY}) == set(NAMES.values())
    assert await provider_names(gql, {"region": PROVINCE}) == set(NAMES.values())
    assert await provider_names(gql, {"region": "44"}) == set()
    assert await provider_names(gql, {"region": COUNTY, "kinds": ["NGO"]}) == named("ngo")


async def test_provider_region_filter_refuses_a_bad_code(gql: GraphQLClient, world: World) -> None:
    for bad in ("abc", "3607x", "123"):
        error = refused(await gql(PROVIDERS, {"filter": {"region": bad}}, as_="ngo"))
        assert error["extensions"]["field"] == "region"


async def test_providers_are_paged_by_name_then_id(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    twins = [uuid.uuid4() for _ in range(3)]
    async with engine.begin() as connection:
        await connection.execute(
            insert(Provider),
            [
                {
                    "id": twin,
                    "name": "同名志愿队",
                    "kind": ProviderKind.VOLUNTEER_GROUP,
                    "jurisdictions": [COUNTY],
                    "categories": [NeedCategory.AFTER_SCHOOL_CARE],
                }
                for twin in twins
            ],
        )
    full = await gql(PROVIDERS, {"first": 100}, as_="ngo")
    everything = [edge["node"]["id"] for edge in full.ok()["providers"]["edges"]]
    assert len(everything) == len(NAMES) + 3
    # Providers of the same name keep a stable order, by id.
    same_name = [
        uuid.UUID(from_base64(edge["node"]["id"])[1])
        for edge in full.ok()["providers"]["edges"]
        if edge["node"]["name"] == "同名志愿队"
    ]
    assert same_name == sorted(twins)

    for size in (1, 2, 4):
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            result = await gql(PROVIDERS, {"first": size, "after": after}, as_="ngo")
            connection = result.ok()["providers"]
            seen += [edge["node"]["id"] for edge in connection["edges"]]
            pages += 1
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert seen == everything, f"pages of {size}"
        assert pages == -(-len(everything) // size)


@pytest.mark.parametrize(
    "values", [["春苗助学会", "not-a-uuid"], [5, "00000000-0000-0000-0000-000000000000"]]
)
async def test_forged_provider_cursor_is_refused(
    gql: GraphQLClient, world: World, values: list[Any]
) -> None:
    result = await gql(PROVIDERS, {"after": encode_cursor("provider", values)}, as_="ngo")
    error = refused(result)
    assert error["extensions"]["field"] == "after"


async def test_provider_cursors_from_other_lists_are_refused(
    gql: GraphQLClient, world: World
) -> None:
    regions = await gql(REGIONS, {"first": 1, "parentCode": CITY}, as_="ngo")
    region_cursor = regions.ok()["regions"]["pageInfo"]["endCursor"]
    for after in (region_cursor, "%%", encode_cursor("provider", ["only a name"])):
        error = refused(await gql(PROVIDERS, {"after": after}, as_="ngo"))
        assert error["extensions"]["field"] == "after"


# --- viewer -----------------------------------------------------------------------------------

VIEWER = """
{ viewer { login clientId provider { id name kind jurisdictions } grants { role jurisdiction } } }
"""


async def test_viewer(gql: GraphQLClient, world: World) -> None:
    ngo = await gql(VIEWER, as_="ngo")
    viewer = ngo.ok()["viewer"]
    assert viewer == {
        "login": "ngo",
        "clientId": gql.client_id_for("ngo"),  # the app the member acts through
        "provider": {
            "id": viewer["provider"]["id"],
            "name": "春苗助学会",
            "kind": "NGO",
            "jurisdictions": [CITY],
        },
        "grants": [{"role": "COORDINATOR", "jurisdiction": COUNTY}],
    }
    node = await gql(
        "query($id: ID!) { node(id: $id) { ... on Provider { name } } }",
        {"id": viewer["provider"]["id"]},
        as_="ngo",
    )
    assert node.ok()["node"] == {"name": "春苗助学会"}

    admin = (await gql(VIEWER, as_="admin")).ok()["viewer"]
    assert admin["login"] == "admin"
    assert admin["provider"]["name"] == "Hub platform operations"
    assert admin["grants"] == [{"role": "PLATFORM_ADMIN", "jurisdiction": PROVINCE}]


async def test_viewer_lists_every_live_grant(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(RoleGrant).values(
                member_id=world.members["officer"],
                provider_id=world.providers["gan_bureau"],
                role=Role.AUDITOR,
                jurisdiction=COUNTY,
            )
        )
        # A grant revoked earlier is no grant at all.
        await connection.execute(
            insert(RoleGrant).values(
                member_id=world.members["officer"],
                provider_id=world.providers["gan_bureau"],
                role=Role.WORKER,
                jurisdiction=OTHER_COUNTY,
                revoked_at=func.now(),
            )
        )
    viewer = (await gql(VIEWER, as_="officer")).ok()["viewer"]
    assert viewer["provider"]["name"] == "赣县区民政局"
    assert sorted(viewer["grants"], key=lambda g: g["role"]) == [
        {"role": "AUDITOR", "jurisdiction": COUNTY},
        {"role": "GOVERNMENT_OFFICER", "jurisdiction": COUNTY},
    ]
