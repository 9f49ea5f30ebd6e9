"""Duplicate children: exact duplicates refused, likely ones reported, merges reversible."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.dedup import DuplicateReason, resemblance
from hub.domain.id_numbers import check_character
from tests.coordination import (
    a_child,
    a_need,
    claimed,
    link_audit,
    log,
    new_key,
    register,
    scalar,
)
from tests.db_state import snapshot
from tests.graphql import GraphQLClient
from tests.world import OTHER_VILLAGE_SAME_TOWNSHIP, World, birth_date_for_age

BIRTH = birth_date_for_age(8)


def id_number(birth: date = BIRTH, sequence: int = 123) -> str:
    first17 = f"360721{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


@pytest.mark.parametrize(
    "registered, newcomer, reason",
    [
        ("王小明", "王小明", DuplicateReason.SAME_NAME),
        ("王小明", "王晓明", DuplicateReason.SAME_PINYIN),  # homophone
        ("刘洋", "刘阳", DuplicateReason.SAME_PINYIN),
        ("王小明", "Wang Xiaoming", DuplicateReason.SAME_PINYIN),  # written in pinyin
        ("王小明", "wang xiao ming", DuplicateReason.SAME_PINYIN),
        ("王小明", "Xiaoming Wang", DuplicateReason.SAME_PINYIN),  # given name first
        ("曾强", "Zeng Qiang", DuplicateReason.SAME_PINYIN),  # 曾 read as a surname
        ("吕丽", "Lü Li", DuplicateReason.SAME_PINYIN),
        ("张晓玲", "Zang Xiaolin", DuplicateReason.SIMILAR_PINYIN),  # zh/z, ing/in
        ("王小明", "王小敏", DuplicateReason.SIMILAR_PINYIN),
        ("王小明", "李小明", None),
        ("王小明", "王大明", None),
    ],
)
def test_names_that_sound_alike(
    registered: str, newcomer: str, reason: DuplicateReason | None
) -> None:
    assert resemblance(newcomer, registered) is reason
    assert resemblance(registered, newcomer) is reason


async def test_registering_reports_likely_duplicates(gql: GraphQLClient, world: World) -> None:
    first = (await register(gql, "王小明", birth=BIRTH)).ok()["registerChild"]
    assert first["likelyDuplicates"] == []
    homophone = (await register(gql, "王晓明", birth=BIRTH)).ok()["registerChild"]
    assert homophone["likelyDuplicates"] == [
        {
            "reason": "SAME_PINYIN",
            "child": {"id": first["child"]["id"], "code": first["child"]["code"]},
        }
    ]
    pinyin = (await register(gql, "Wang Xiaoming", birth=BIRTH)).ok()["registerChild"]
    assert {d["child"]["id"] for d in pinyin["likelyDuplicates"]} == {
        first["child"]["id"],
        homophone["child"]["id"],
    }
    # Another birth date, or another village: a different child.
    other_day = (await register(gql, "王小明", birth=date(BIRTH.year, 2, 1))).ok()["registerChild"]
    assert other_day["likelyDuplicates"] == []
    elsewhere = await register(gql, "王小明", birth=BIRTH, village=OTHER_VILLAGE_SAME_TOWNSHIP)
    assert elsewhere.ok()["registerChild"]["likelyDuplicates"] == []


async def test_an_exact_duplicate_is_refused_and_writes_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    number = id_number()
    (await register(gql, "王小明", birth=BIRTH, id_number=number)).ok()
    before = await snapshot(engine)
    children = await scalar(engine, "SELECT count(*) FROM children")
    again = await register(gql, "王晓明", birth=BIRTH, id_number=number.lower())
    assert again.codes == ["DUPLICATE_CHILD"]
    assert await snapshot(engine) == before
    assert await scalar(engine, "SELECT count(*) FROM children") == children
    stored = await scalar(engine, "SELECT id_number_hash FROM child_identities")
    assert number not in stored and len(stored) == 64


MERGE = """
mutation($input: MergeChildrenInput!, $key: String) {
  mergeChildren(input: $input, idempotencyKey: $key) {
    merge { id reason movedNeeds undoneAt kept { id status } merged { id status } }
  }
}
"""
UNMERGE = """
mutation($input: UnmergeChildrenInput!) {
  unmergeChildren(input: $input) {
    merge { id undoneAt undoReason kept { id } merged { id status } }
  }
}
"""
COVERAGE = """
query($id: ID!) {
  child(id: $id) {
    status
    coverage { need { id category } claims { id status provider { name } } deliveries { id } }
  }
}
"""


async def test_merging_moves_needs_claims_and_deliveries_and_can_be_undone(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    keep = await a_child(gql, "王小明", birth=BIRTH)
    duplicate = await a_child(gql, "王晓明", birth=BIRTH)
    kept_need = await a_need(gql, keep, category="EDUCATION")
    moved_need = await a_need(gql, duplicate, category="MATERIAL")
    won = (await claimed(gql, moved_need, "ngo"))["claim"]
    delivery = (await log(gql, won["id"], "ngo")).ok()["logDelivery"]["delivery"]

    key = new_key()
    merge_input = {"keepId": keep, "mergeId": duplicate, "reason": "同一儿童，姓名写法不同"}
    merged = (await gql(MERGE, {"input": merge_input, "key": key}, as_="officer")).ok()
    merge = merged["mergeChildren"]["merge"]
    assert merge["movedNeeds"] == 1
    assert merge["merged"]["status"] == "MERGED"
    assert merge["kept"]["status"] == "ACTIVE"
    replay = (await gql(MERGE, {"input": merge_input, "key": key}, as_="officer")).ok()
    assert replay["mergeChildren"]["merge"]["id"] == merge["id"]

    coverage = (await gql(COVERAGE, {"id": keep}, as_="officer")).ok()["child"]["coverage"]
    assert {c["need"]["id"] for c in coverage} == {kept_need, moved_need}
    moved = next(c for c in coverage if c["need"]["id"] == moved_need)
    assert [c["id"] for c in moved["claims"]] == [won["id"]]
    assert [d["id"] for d in moved["deliveries"]] == [delivery["id"]]
    assert (await gql(COVERAGE, {"id": duplicate}, as_="officer")).ok()["child"]["coverage"] == []
    refused = await gql(
        "mutation($c: ID!) { openNeed(input: {childId: $c, category: LEGAL, urgency: LOW,"
        ' description: "x"}) { need { id } } }',
        {"c": duplicate},
        as_="officer",
    )
    assert refused.codes == ["CONFLICT"]

    later_need = await a_need(gql, keep, category="MEDICAL")  # opened after the merge: stays
    undone = (
        await gql(
            UNMERGE,
            {"input": {"mergeId": merge["id"], "reason": "核实后确为两名儿童"}},
            as_="director",
        )
    ).ok()["unmergeChildren"]["merge"]
    assert undone["undoneAt"] is not None
    assert undone["merged"]["status"] == "ACTIVE"
    back = (await gql(COVERAGE, {"id": duplicate}, as_="officer")).ok()["child"]["coverage"]
    assert [c["need"]["id"] for c in back] == [moved_need]
    assert [c["claims"][0]["id"] for c in back] == [won["id"]]
    stays = (await gql(COVERAGE, {"id": keep}, as_="officer")).ok()["child"]["coverage"]
    assert {c["need"]["id"] for c in stays} == {kept_need, later_need}
    twice = await gql(UNMERGE, {"input": {"mergeId": merge["id"], "reason": "x"}}, as_="officer")
    assert twice.codes == ["CONFLICT"]
    await link_audit(engine)
    actions = await scalar(
        engine,
        "SELECT string_agg(action, ',' ORDER BY chain_seq) FROM audit_events"
        " WHERE action LIKE 'child.%merge%'",
    )
    assert actions == "child.merged,child.merge_kept,child.unmerged,child.unmerge_kept"


async def test_merge_refusals_write_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    keep = await a_child(gql, "王小明", birth=BIRTH)
    duplicate = await a_child(gql, "王晓明", birth=BIRTH)
    before = await snapshot(engine)
    cases = [
        ({"keepId": keep, "mergeId": keep, "reason": "x"}, "officer", "BAD_USER_INPUT"),
        ({"keepId": keep, "mergeId": duplicate, "reason": " "}, "officer", "BAD_USER_INPUT"),
        ({"keepId": keep, "mergeId": duplicate, "reason": "同一人"}, "ngo", "FORBIDDEN"),
        (
            {"keepId": keep, "mergeId": duplicate, "reason": "同一人"},
            "foreign_officer",
            "NOT_FOUND",
        ),
    ]
    for merge_input, login, code in cases:
        response = await gql(MERGE, {"input": merge_input}, as_=login)
        assert response.codes == [code], response.errors
    assert await snapshot(engine) == before
