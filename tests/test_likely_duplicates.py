"""Likely duplicates across the register: pairs already on record, found when an official asks.

The records here are written straight into the register, as records imported or registered
before a near-identical one would be: the comparison at registration never saw them together.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from pypinyin import lazy_pinyin
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import GlobalID

from hub.db.models import Child, ChildIdentity
from hub.domain import dedup
from hub.vocabulary import Guardianship
from tests.coordination import scalar
from tests.graphql import GraphQLClient
from tests.query_counter import count_statements
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

BIRTH = birth_date_for_age(8)
OTHER_BIRTH = date(BIRTH.year, 3, 2)

PAIRS = """
query($j: String, $first: Int, $after: String) {
  likelyDuplicates(jurisdiction: $j, first: $first, after: $after) {
    edges { cursor node { reason child { id code birthDate } other { id code birthDate } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def on_record(
    engine: AsyncEngine,
    code: str,
    name: str,
    *,
    village: str = VILLAGE,
    birth: date = BIRTH,
) -> uuid.UUID:
    """A child already in the register, as an earlier registration or an import left it."""
    child_id = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            insert(Child).values(
                id=child_id,
                code=code,
                region_code=village,
                birth_date=birth,
                guardianship=Guardianship.GRANDPARENTS,
                father_away=True,
                mother_away=True,
            )
        )
        await connection.execute(
            insert(ChildIdentity).values(
                child_id=child_id, full_name=name, name_pinyin=" ".join(lazy_pinyin(name))
            )
        )
    return child_id


async def pairs(
    gql: GraphQLClient, as_: str = "officer", jurisdiction: str | None = COUNTY, first: int = 50
) -> list[tuple[str, str, str]]:
    """Every pair the reader is shown, page after page, as (code, code, reason)."""
    seen: list[tuple[str, str, str]] = []
    after = None
    while True:
        variables = {"j": jurisdiction, "first": first, "after": after}
        found = (await gql(PAIRS, variables, as_=as_)).ok()["likelyDuplicates"]
        for edge in found["edges"]:
            node = edge["node"]
            seen.append((node["child"]["code"], node["other"]["code"], node["reason"]))
        if not found["pageInfo"]["hasNextPage"]:
            return seen
        after = found["pageInfo"]["endCursor"]
        assert after is not None


async def test_pairs_already_on_record_are_found(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await on_record(engine, "D-01", "王小明")
    await on_record(engine, "D-02", "王晓明")  # a homophone
    await on_record(engine, "D-03", "Wang Xiaoming")  # the name in pinyin
    await on_record(engine, "D-04", "张晓玲")
    await on_record(engine, "D-05", "Zang Xiaolin")  # a southern speaker's zh/z and ing/in
    await on_record(engine, "D-06", "李红")  # same village and day, another name
    await on_record(engine, "D-07", "王小明", village=OTHER_VILLAGE_SAME_TOWNSHIP)
    await on_record(engine, "D-08", "王小明", birth=OTHER_BIRTH)
    await on_record(engine, "D-09", "王晓明", village=FOREIGN_VILLAGE)

    assert await pairs(gql) == [
        ("D-01", "D-02", "SAME_PINYIN"),
        ("D-01", "D-03", "SAME_PINYIN"),
        ("D-02", "D-03", "SAME_PINYIN"),
        ("D-04", "D-05", "SIMILAR_PINYIN"),
    ]
    # The whole reach by default; a village narrows it.
    assert len(await pairs(gql, jurisdiction=None)) == 4
    assert await pairs(gql, jurisdiction=OTHER_VILLAGE_SAME_TOWNSHIP) == []
    # A child director of the township sees its villages' pairs, at an official's tier.
    page = (await gql(PAIRS, {"j": TOWNSHIP}, as_="director")).ok()["likelyDuplicates"]
    first = page["edges"][0]["node"]
    assert first["child"]["birthDate"] == first["other"]["birthDate"] == BIRTH.isoformat()
    # Names were compared, none was handed out: nothing for the access log.
    assert await scalar(engine, "SELECT count(*) FROM access_records") == 0


async def test_a_child_record_lists_its_likely_duplicates(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await on_record(engine, "D-01", "刘洋")
    await on_record(engine, "D-02", "刘阳")
    await on_record(engine, "D-03", "Liu Yang")
    await on_record(engine, "D-04", "刘洋", birth=OTHER_BIRTH)
    query = """query($j: String) { children(filter: {jurisdiction: $j}) { edges { node {
        code likelyDuplicates { reason child { code } } } } } }"""
    found = (await gql(query, {"j": COUNTY}, as_="officer")).ok()["children"]["edges"]
    by_code = {edge["node"]["code"]: edge["node"]["likelyDuplicates"] for edge in found}
    assert by_code == {
        "D-01": [
            {"reason": "SAME_PINYIN", "child": {"code": "D-02"}},
            {"reason": "SAME_PINYIN", "child": {"code": "D-03"}},
        ],
        "D-02": [
            {"reason": "SAME_PINYIN", "child": {"code": "D-01"}},
            {"reason": "SAME_PINYIN", "child": {"code": "D-03"}},
        ],
        "D-03": [
            {"reason": "SAME_PINYIN", "child": {"code": "D-01"}},
            {"reason": "SAME_PINYIN", "child": {"code": "D-02"}},
        ],
        "D-04": [],
    }
    # A provider reads the children, but not the names the match is made on.
    seen = (await gql(query, {"j": COUNTY}, as_="ngo")).ok()["children"]["edges"]
    assert {edge["node"]["code"]: edge["node"]["likelyDuplicates"] for edge in seen} == {
        code: [] for code in by_code
    }
    assert await scalar(engine, "SELECT count(*) FROM access_records") == 0


MERGE = """
mutation($input: MergeChildrenInput!) { mergeChildren(input: $input) { merge { id } } }
"""
UNMERGE = """
mutation($input: UnmergeChildrenInput!) { unmergeChildren(input: $input) { merge { id } } }
"""


def global_id(child_id: uuid.UUID) -> str:
    return str(GlobalID("Child", str(child_id)))


async def test_merged_children_are_left_out_and_come_back_when_the_merge_is_undone(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    kept = await on_record(engine, "D-01", "王小明")
    await on_record(engine, "D-02", "王晓明")
    merged = await on_record(engine, "D-03", "Wang Xiaoming")
    assert len(await pairs(gql)) == 3
    merge_input = {"keepId": global_id(kept), "mergeId": global_id(merged), "reason": "同一儿童"}
    merge = (await gql(MERGE, {"input": merge_input}, as_="officer")).ok()["mergeChildren"]
    assert await pairs(gql) == [("D-01", "D-02", "SAME_PINYIN")]
    undo_input = {"mergeId": merge["merge"]["id"], "reason": "核实后确为两名儿童"}
    (await gql(UNMERGE, {"input": undo_input}, as_="officer")).ok()
    assert len(await pairs(gql)) == 3


async def test_only_officials_of_the_jurisdiction_are_shown_pairs(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await on_record(engine, "D-01", "王小明")
    await on_record(engine, "D-02", "王晓明")
    await on_record(engine, "X-01", "李小红", village=FOREIGN_VILLAGE)
    await on_record(engine, "X-02", "Li Xiaohong", village=FOREIGN_VILLAGE)
    for who in ("ngo", "ngo_worker", "business", "auditor", "admin"):
        refused = await gql(PAIRS, {"j": COUNTY}, as_=who)
        assert refused.codes == ["FORBIDDEN"], (who, refused.errors)
        assert refused.data is None
    assert (await gql(PAIRS, {"j": COUNTY})).codes == ["UNAUTHENTICATED"]
    # Another county's official: nothing of Gan county, asked for or not; their own pairs.
    assert await pairs(gql, as_="foreign_officer") == []
    assert await pairs(gql, as_="foreign_officer", jurisdiction=None) == [
        ("X-01", "X-02", "SAME_PINYIN")
    ]
    assert await pairs(gql, as_="officer", jurisdiction=OTHER_COUNTY) == []
    assert await pairs(gql, as_="officer", jurisdiction=None) == [("D-01", "D-02", "SAME_PINYIN")]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"j": "36x"}, "jurisdiction"),
        ({"j": COUNTY, "first": 0}, "first"),
        ({"j": COUNTY, "first": 101}, "first"),
        ({"j": COUNTY, "after": "not-a-cursor"}, "after"),
        ({"j": COUNTY, "after": "WyJjaGlsZCIsIkMxIl0"}, "after"),  # a children list's cursor
        ({"j": COUNTY, "after": "WyJkdXBsaWNhdGVzIiwxLDJd"}, "after"),  # numbers, not codes
    ],
)
async def test_bad_arguments_are_refused(
    gql: GraphQLClient, world: World, variables: dict[str, object], field: str
) -> None:
    refused = await gql(PAIRS, variables, as_="officer")
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == field


GROUP = ("王小明", "王晓明", "Wang Xiaoming", "李红")  # three alike, one not


async def many_groups(engine: AsyncEngine, groups: int) -> list[tuple[str, str, str]]:
    """``groups`` birth dates in one village, four children each: three pairs per date. The
    codes interleave the groups, so that the pairs' order is not the groups' order."""
    for g in range(groups):
        for i, name in enumerate(GROUP):
            await on_record(engine, f"D-{i}-{g:02d}", name, birth=BIRTH - timedelta(days=g))
    return sorted(
        (f"D-{i}-{g:02d}", f"D-{j}-{g:02d}", "SAME_PINYIN")
        for g in range(groups)
        for i in range(3)
        for j in range(i + 1, 3)
    )


async def test_paging_shows_every_pair_once_in_order(
    gql: GraphQLClient, world: World, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await many_groups(engine, 8)
    for first in (1, 5, 24, 100):
        assert await pairs(gql, first=first) == expected
    # Fewer comparisons per page than a page holds: short pages, some empty, still every pair.
    monkeypatch.setattr(dedup, "MAX_COMPARISONS_PER_PAGE", 2)
    assert await pairs(gql, first=3) == expected


async def test_paging_goes_on_from_the_cursor_when_records_change_between_pages(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    expected = await many_groups(engine, 3)
    page = (await gql(PAIRS, {"j": COUNTY, "first": 4}, as_="officer")).ok()["likelyDuplicates"]
    shown = [(e["node"]["child"]["code"], e["node"]["other"]["code"]) for e in page["edges"]]
    assert shown == [pair[:2] for pair in expected[:4]]
    # Between pages: a child of pairs not yet shown is merged away, and a newcomer makes pairs
    # on both sides of the cursor.
    ids = {
        code: await scalar(engine, "SELECT id FROM children WHERE code = :c", c=code)
        for code in ("D-0-02", "D-2-02")
    }
    merge_input = {
        "keepId": global_id(ids["D-0-02"]),
        "mergeId": global_id(ids["D-2-02"]),
        "reason": "同一儿童",
    }
    (await gql(MERGE, {"input": merge_input}, as_="officer")).ok()
    await on_record(engine, "D-9-00", "王晓明")
    after = page["pageInfo"]["endCursor"]
    rest = await gql(PAIRS, {"j": COUNTY, "first": 50, "after": after}, as_="officer")
    later = [
        (e["node"]["child"]["code"], e["node"]["other"]["code"])
        for e in rest.ok()["likelyDuplicates"]["edges"]
    ]
    assert later == sorted(
        [pair[:2] for pair in expected[4:] if "D-2-02" not in pair]
        + [("D-1-00", "D-9-00"), ("D-2-00", "D-9-00")]
    )
    assert not set(later) & set(shown)


async def test_a_page_costs_the_same_statements_whatever_its_size(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await many_groups(engine, 10)
    await gql(PAIRS, {"j": COUNTY, "first": 1}, as_="officer")  # the token's first use
    counts = []
    for first in (2, 25):
        with count_statements(engine) as statements:
            found = (await gql(PAIRS, {"j": COUNTY, "first": first}, as_="officer")).ok()
        assert len(found["likelyDuplicates"]["edges"]) == first
        counts.append(len(statements))
    assert counts[0] == counts[1]

    on_children = """query($first: Int!) { children(first: $first) { edges { node {
        code likelyDuplicates { reason child { code region { name } } } } } } }"""
    counts = []
    for first in (2, 30):
        with count_statements(engine) as statements:
            found = (await gql(on_children, {"first": first}, as_="officer")).ok()
        assert len(found["children"]["edges"]) == first
        counts.append(len(statements))
    assert counts[0] == counts[1]
