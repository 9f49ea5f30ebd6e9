"""Per-need disclosure as a user meets it: a claimant reads the needs it holds, not the child's
others (the permission matrix is in tests/test_need_disclosure_matrix.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.principals import member_principal
from hub.db.engine import session_factory
from hub.domain import claims, deliveries, needs
from hub.vocabulary import NeedCategory
from tests.coordination import END, OPEN_NEED, a_child, claimed, log, new_key, uuid_of
from tests.graphql import GraphQLClient
from tests.query_counter import count_statements
from tests.world import World

WINTER_CLOTHES = "冬季棉衣两件、棉鞋一双"
LOW_MOOD = "情绪低落、少言寡语，拒绝上学，需心理评估"
ALONE_AT_HOME = "祖母住院，孩子独自在家，需落实临时照护人"

CHILD = """
query($id: ID!) {
  child(id: $id) {
    needs { id category description claims { id note deliveries { id description evidence } } }
    coverage {
      need { id description }
      claims { id note }
      deliveries { id description evidence }
    }
  }
}
"""
NEED = """
query($id: ID!) {
  need(id: $id) { id description claims { id note deliveries { id description evidence } } }
}
"""
NODE = """
query($id: ID!) {
  node(id: $id) {
    ... on Need { id description }
    ... on Claim { id note }
    ... on Delivery { id description evidence }
  }
}
"""
PAGES = """
{
  needs(first: 50) { nodes { id description } }
  claims(first: 50) { nodes { id note need { id } deliveries { id description evidence } } }
}
"""
CLAIM_WITH_NEED = """
mutation($input: ClaimNeedInput!, $key: String!) {
  claimNeed(input: $input, idempotencyKey: $key) {
    ... on ClaimNeedSuccess { claim { id note } need { id category description } }
  }
}
"""


async def open_need(gql: GraphQLClient, child: str, category: str, description: str) -> str:
    need_input = {
        "childId": child,
        "category": category,
        "urgency": "HIGH",
        "description": description,
    }
    result = await gql(OPEN_NEED, {"input": need_input}, as_="officer")
    return str(result.ok()["openNeed"]["need"]["id"])


TEXT_FIELDS = ("description", "note", "evidence")


def observed(data: Any) -> Iterator[tuple[str, str, Any]]:
    """Every (id, text field, value) of a need, claim or delivery in a response."""
    if isinstance(data, list):
        for item in data:
            yield from observed(item)
    elif isinstance(data, dict):
        if isinstance(data.get("id"), str):
            for name in TEXT_FIELDS:
                if name in data:
                    yield data["id"], name, data[name]
        for item in data.values():
            yield from observed(item)


async def read_as(
    gql: GraphQLClient, as_: str, child: str, ids: list[str], needs: list[str]
) -> list[Any]:
    """What ``as_`` reads of the child's needs, claims and deliveries (``ids``, of which
    ``needs`` are needs), on every path."""
    reads = [
        ("child", (await gql(CHILD, {"id": child}, as_=as_)).ok()),
        ("pages", (await gql(PAGES, as_=as_)).ok()),
    ]
    for key in ids:
        reads.append(("node", (await gql(NODE, {"id": key}, as_=as_)).ok()))
    for key in needs:
        reads.append(("need", (await gql(NEED, {"id": key}, as_=as_)).ok()))
    return [(path, *found) for path, read in reads for found in observed(read)]


def mismatches(
    reads: list[Any], stored: dict[str, dict[str, str]], shown: set[str]
) -> list[tuple[str, str, str, Any]]:
    """Each text read otherwise than it should be: the stored text where ``shown``, else null."""
    return [
        (path, key, name, value)
        for path, key, name, value in reads
        if key in stored and value != (stored[key].get(name) if key in shown else None)
    ]


async def test_a_business_holding_winter_clothes_reads_nothing_else_of_the_child(
    gql: GraphQLClient, world: World
) -> None:
    """The demo's story: a business claimed one child's winter clothes. It reads that need's
    description, but neither the psychological nor the safety need's, nor the NGO's notes and
    deliveries on them."""
    child = await a_child(gql)
    clothes = await open_need(gql, child, "MATERIAL", WINTER_CLOTHES)
    mood = await open_need(gql, child, "PSYCHOLOGICAL", LOW_MOOD)
    alone = await open_need(gql, child, "SAFETY", ALONE_AT_HOME)
    stored = {
        clothes: {"description": WINTER_CLOTHES},
        mood: {"description": LOW_MOOD},
        alone: {"description": ALONE_AT_HOME},
    }
    business_claim = (await claimed(gql, clothes, "business", note="周六送到"))["claim"]["id"]
    stored[business_claim] = {"note": "周六送到"}
    ngo_records = []
    for need in (mood, alone):
        claim = (await claimed(gql, need, "ngo", note=f"社工跟进 {need[-4:]}"))["claim"]["id"]
        visit = "社工家访，谈话一小时"
        delivery = (await log(gql, claim, "ngo", description=visit)).ok()["logDelivery"]
        stored[claim] = {"note": f"社工跟进 {need[-4:]}"}
        stored[delivery["delivery"]["id"]] = {"description": visit, "evidence": "签收单 2026-001"}
        ngo_records += [claim, delivery["delivery"]["id"]]
    handed = (await log(gql, business_claim, "business")).ok()["logDelivery"]["delivery"]["id"]
    stored[handed] = {"description": "送到家中，祖母签收", "evidence": "签收单 2026-001"}
    ids, needs = list(stored), [clothes, mood, alone]

    business = await read_as(gql, "business", child, ids, needs)
    # The need it holds, and its own claim and delivery; nothing of the other needs.
    assert mismatches(business, stored, {clothes, business_claim, handed}) == []
    assert {key for _, key, _, _ in business} >= set(ids)
    assert any(key == mood for _, key, _, _ in business)

    # The NGO, qualified for both, reads the needs it holds - and not the winter clothes.
    ngo = await read_as(gql, "ngo", child, ids, needs)
    assert mismatches(ngo, stored, {mood, alone, *ngo_records}) == []

    # The officer of the region reads everything.
    officer = await read_as(gql, "officer", child, ids, needs)
    assert mismatches(officer, stored, set(ids)) == []


async def test_the_claim_answer_shows_the_need_as_its_new_holder_reads_it(
    gql: GraphQLClient, world: World
) -> None:
    child = await a_child(gql)
    clothes = await open_need(gql, child, "MATERIAL", WINTER_CLOTHES)
    mood = await open_need(gql, child, "PSYCHOLOGICAL", LOW_MOOD)
    answers = {}
    for need in (clothes, mood):
        variables = {"input": {"needId": need, "note": "我们来"}, "key": new_key()}
        answers[need] = (await gql(CLAIM_WITH_NEED, variables, as_="business")).ok()["claimNeed"]
    assert answers[clothes]["need"]["description"] == WINTER_CLOTHES
    # A business never reads a psychological need's text, even one it holds; its own note, yes.
    assert answers[mood]["need"]["description"] is None
    assert answers[mood]["claim"]["note"] == "我们来"
    # Holding one need opens none of the others.
    read = (await gql(CHILD, {"id": child}, as_="business")).ok()["child"]["needs"]
    assert {n["category"]: n["description"] for n in read} == {
        "MATERIAL": WINTER_CLOTHES,
        "PSYCHOLOGICAL": None,
    }


async def test_a_released_need_no_longer_shows_its_text(gql: GraphQLClient, world: World) -> None:
    """Released, the winter clothes are not the business's to read any more, though it still
    holds the child's school supplies."""
    child = await a_child(gql)
    clothes = await open_need(gql, child, "MATERIAL", WINTER_CLOTHES)
    supplies = await open_need(gql, child, "EDUCATION", "书包、文具一套")
    claim = (await claimed(gql, clothes, "business", note="周六送到"))["claim"]
    await claimed(gql, supplies, "business")
    read = (await gql(NEED, {"id": clothes}, as_="business")).ok()
    assert read["need"]["description"] == WINTER_CLOTHES
    release = {"input": {"id": claim["id"], "version": claim["version"], "reason": "没有库存"}}
    (await gql(END["release"], release, as_="business")).ok()
    read = (await gql(NEED, {"id": clothes}, as_="business")).ok()
    assert read["need"]["description"] is None
    # Its own claim, ended, still reads with its text.
    assert [c["note"] for c in read["need"]["claims"]] == ["周六送到"]
    read = (await gql(NEED, {"id": supplies}, as_="business")).ok()
    assert read["need"]["description"] == "书包、文具一套"


async def test_a_category_the_provider_stops_serving_stops_its_text_at_once(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """Served categories are read with the roles, on every request: a provider that no longer
    serves a sensitive category no longer reads the text of the needs of it that it holds."""
    child = await a_child(gql)
    mood = await open_need(gql, child, "PSYCHOLOGICAL", LOW_MOOD)
    await claimed(gql, mood, "ngo", note="每两周家访")

    async def serve(categories: list[NeedCategory]) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE providers SET categories = CAST(:c AS need_category[]) WHERE id = :id"
                ),
                {"c": [c.value for c in categories], "id": world.providers["ngo"]},
            )

    async def reads() -> tuple[str | None, str | None]:
        need = (await gql(NEED, {"id": mood}, as_="ngo")).ok()["need"]
        return need["description"], need["claims"][0]["note"]

    assert await reads() == (LOW_MOOD, "每两周家访")
    await serve([c for c in NeedCategory if c is not NeedCategory.PSYCHOLOGICAL])
    # Its own note stays its own.
    assert await reads() == (None, "每两周家访")
    await serve(list(NeedCategory))
    assert await reads() == (LOW_MOOD, "每两周家访")


async def test_what_a_provider_holds_is_asked_once_per_batch(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """Whatever a batch holds, a provider's needs, claims and deliveries cost one statement for
    their rows and one for which of their needs the provider holds."""

    async def statements(children: list[str]) -> list[int]:
        ids = [uuid_of(child) for child in children]
        async with session_factory(engine)() as session:
            business = await member_principal(session, "business")
            assert business is not None
            counts = []
            with count_statements(engine) as sent:
                found = await needs.needs_of_children(session, business, ids)
            counts.append(len(sent))
            need_ids = [view.id for views in found.values() for view in views]
            with count_statements(engine) as sent:
                on_needs = await claims.claims_of_needs(session, business, need_ids)
            counts.append(len(sent))
            claim_ids = [view.id for views in on_needs.values() for view in views]
            with count_statements(engine) as sent:
                await deliveries.deliveries_of_claims(session, business, claim_ids)
            counts.append(len(sent))
        return counts

    children = []
    for n in range(6):
        child = await a_child(gql, f"测试{n}")
        clothes = await open_need(gql, child, "MATERIAL", WINTER_CLOTHES)
        mood = await open_need(gql, child, "PSYCHOLOGICAL", LOW_MOOD)
        claim = (await claimed(gql, clothes, "business"))["claim"]["id"]
        (await log(gql, claim, "business")).ok()
        claim = (await claimed(gql, mood, "ngo"))["claim"]["id"]
        (await log(gql, claim, "ngo")).ok()
        children.append(child)
    assert await statements(children[:2]) == await statements(children) == [2, 2, 2]
