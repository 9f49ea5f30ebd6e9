"""registerChild and updateChild: what officials may write, and every refusal changing nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.id_numbers import check_character
from tests.db_state import count, snapshot
from tests.graphql import GraphQLClient
from tests.world import (
    FOREIGN_VILLAGE,
    OTHER_VILLAGE_SAME_TOWNSHIP,
    TOWNSHIP,
    VILLAGE,
    World,
    birth_date_for_age,
)

REGISTER = """
mutation($input: RegisterChildInput!, $key: String) {
  registerChild(input: $input, idempotencyKey: $key) {
    child {
      id code version ageBand birthDate guardianship school
      parentsAbsence { fatherAway motherAway since workLocation }
      region { code }
      identity(purpose: "registration check") { fullName idNumberTail guardianPhone }
    }
  }
}
"""

UPDATE = """
mutation($input: UpdateChildInput!) {
  updateChild(input: $input) {
    child { id version guardianship school region { code } parentsAbsence { fatherAway motherAway }
            identity(purpose: "update check") { fullName address } }
  }
}
"""


def id_number(birth: date, county: str = "360721", sequence: str = "123") -> str:
    first17 = f"{county}{birth:%Y%m%d}{sequence}"
    return first17 + check_character(first17)


def child_input(**overrides: Any) -> dict[str, Any]:
    birth = birth_date_for_age(9)
    value: dict[str, Any] = {
        "regionCode": VILLAGE,
        "birthDate": birth.isoformat(),
        "guardianship": "GRANDPARENTS",
        "fatherAway": True,
        "motherAway": True,
        "parentsAwaySince": "2022-02-01",
        "parentsWorkLocation": "东莞",
        "school": "江口镇中心小学",
        "sex": "FEMALE",
        "identity": {
            "fullName": "李小红",
            "idNumber": id_number(birth),
            "guardianName": "李大山",
            "guardianRelation": "祖父",
            "guardianPhone": "13800138000",
        },
        "consent": {
            "covers": ["IDENTITY"],
            "givenBy": "祖父",
            "givenAt": "2026-01-05T10:00:00+08:00",
        },
    }
    value.update(overrides)
    return value


async def register(gql: GraphQLClient, as_: str = "officer", **overrides: Any) -> dict[str, Any]:
    result = await gql(REGISTER, {"input": child_input(**overrides)}, as_=as_)
    return result.ok()["registerChild"]["child"]  # type: ignore[no-any-return]


async def test_an_officer_registers_a_child_and_everything_is_recorded(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await register(gql)

    assert child["code"].startswith("C360721-")
    assert child["version"] == 1
    assert child["ageBand"] == "6-11"
    assert child["region"]["code"] == VILLAGE
    assert child["guardianship"] == "GRANDPARENTS"
    assert child["parentsAbsence"] == {
        "fatherAway": True,
        "motherAway": True,
        "since": "2022-02-01",
        "workLocation": "东莞",
    }
    assert child["identity"]["fullName"] == "李小红"
    assert child["identity"]["idNumberTail"] == child_input()["identity"]["idNumber"][-4:]
    # The ID number itself is never stored: only its keyed hash and its tail.
    plain = child_input()["identity"]["idNumber"]
    state = await snapshot(engine)
    assert plain not in repr(state)
    assert await count(engine, "child_identities", "id_number_hash IS NOT NULL") == 1
    assert await count(engine, "guardian_consents") == 1
    assert await count(engine, "audit_events", "action = 'child.registered'") == 1
    assert await count(engine, "access_records", "purpose = 'registration check'") == 1


async def test_a_child_director_registers_within_the_township(
    gql: GraphQLClient, world: World
) -> None:
    child = await register(gql, as_="director", regionCode=OTHER_VILLAGE_SAME_TOWNSHIP)
    assert child["region"]["code"] == OTHER_VILLAGE_SAME_TOWNSHIP


REFUSALS = [
    pytest.param("officer", {"regionCode": FOREIGN_VILLAGE}, "FORBIDDEN", None, id="other-county"),
    pytest.param("ngo", {}, "FORBIDDEN", None, id="ngo-is-not-an-official"),
    pytest.param("business", {}, "FORBIDDEN", None, id="business-is-not-an-official"),
    pytest.param(
        "officer", {"regionCode": TOWNSHIP}, "BAD_USER_INPUT", "regionCode", id="not-a-village"
    ),
    pytest.param(
        "officer",
        {"regionCode": "360721101299"},
        "BAD_USER_INPUT",
        "regionCode",
        id="no-such-village",
    ),
    pytest.param(
        "officer",
        {"birthDate": birth_date_for_age(18).isoformat(), "identity": {"fullName": "张三"}},
        "BAD_USER_INPUT",
        "birthDate",
        id="eighteen-years-old",
    ),
    pytest.param(
        "officer",
        {
            "birthDate": (date.today() + timedelta(days=3)).isoformat(),
            "identity": {"fullName": "张三"},
        },
        "BAD_USER_INPUT",
        "birthDate",
        id="born-in-the-future",
    ),
    pytest.param(
        "officer",
        {"fatherAway": False, "motherAway": False, "parentsAwaySince": None},
        "BAD_USER_INPUT",
        "fatherAway",
        id="no-parent-away",
    ),
    pytest.param(
        "officer",
        {"guardianship": "ONE_PARENT"},
        "BAD_USER_INPUT",
        "guardianship",
        id="one-parent-guardian-but-both-away",
    ),
    pytest.param(
        "officer",
        {"identity": {"fullName": "  "}},
        "BAD_USER_INPUT",
        "full_name",
        id="blank-name",
    ),
    pytest.param(
        "officer",
        {"identity": {"fullName": "张三", "idNumber": "36072120150101123"}},
        "BAD_USER_INPUT",
        "idNumber",
        id="id-number-too-short",
    ),
    pytest.param(
        "officer",
        {"identity": {"fullName": "张三", "idNumber": id_number(birth_date_for_age(9))[:-1] + "0"}},
        "BAD_USER_INPUT",
        "idNumber",
        id="id-number-bad-check-character",
    ),
    pytest.param(
        "officer",
        {"identity": {"fullName": "张三", "idNumber": id_number(birth_date_for_age(7))}},
        "BAD_USER_INPUT",
        "idNumber",
        id="id-number-birth-date-differs",
    ),
    pytest.param(
        "officer",
        {"identity": {"fullName": "张三", "guardianPhone": "call me"}},
        "BAD_USER_INPUT",
        "guardianPhone",
        id="phone-not-digits",
    ),
    pytest.param(
        "officer",
        {"consent": {"covers": [], "givenBy": "祖父", "givenAt": "2026-01-05T10:00:00Z"}},
        "BAD_USER_INPUT",
        "consent.covers",
        id="consent-covers-nothing",
    ),
    pytest.param(
        "officer",
        {
            "consent": {
                "covers": ["IDENTITY"],
                "givenBy": "祖父",
                "givenAt": "2999-01-01T00:00:00Z",
            }
        },
        "BAD_USER_INPUT",
        "consent.givenAt",
        id="consent-in-the-future",
    ),
]


@pytest.mark.parametrize(("who", "overrides", "code", "field"), REFUSALS)
async def test_refused_registrations_change_nothing(
    gql: GraphQLClient,
    world: World,
    engine: AsyncEngine,
    who: str,
    overrides: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    before = await snapshot(engine)
    result = await gql(REGISTER, {"input": child_input(**overrides)}, as_=who)
    assert result.codes == [code], result.errors
    assert result.data is None
    if field is not None:
        assert result.errors[0]["extensions"]["field"] == field
    assert await snapshot(engine) == before


async def test_the_same_id_number_cannot_be_registered_twice(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await register(gql)
    before = await snapshot(engine)
    result = await gql(REGISTER, {"input": child_input()}, as_="director")
    assert result.codes == ["DUPLICATE_CHILD"]
    assert await snapshot(engine) == before


async def test_an_idempotency_key_replays_the_first_result(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    variables = {"input": child_input(), "key": "register-li-xiaohong"}
    first = (await gql(REGISTER, variables, as_="officer")).ok()["registerChild"]["child"]
    again = (await gql(REGISTER, variables, as_="officer")).ok()["registerChild"]["child"]
    assert again["id"] == first["id"]
    assert await count(engine, "children") == 1
    assert await count(engine, "audit_events", "action = 'child.registered'") == 1

    before = await snapshot(engine)
    changed = {"input": child_input(school="另一所学校"), "key": "register-li-xiaohong"}
    refused = await gql(REGISTER, changed, as_="officer")
    assert refused.codes == ["IDEMPOTENCY_KEY_REUSED"]
    assert await snapshot(engine) == before


async def test_idempotency_keys_belong_to_their_caller(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """Another member using the same key string makes a request of their own."""
    await gql(REGISTER, {"input": child_input(), "key": "k1"}, as_="officer")
    other = child_input(identity={"fullName": "王芳"}, regionCode=OTHER_VILLAGE_SAME_TOWNSHIP)
    result = await gql(REGISTER, {"input": other, "key": "k1"}, as_="director")
    assert result.ok()["registerChild"]["child"]["region"]["code"] == OTHER_VILLAGE_SAME_TOWNSHIP
    assert await count(engine, "children") == 2


async def test_an_officer_updates_a_child(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await register(gql)
    result = await gql(
        UPDATE,
        {
            "input": {
                "id": child["id"],
                "version": 1,
                "guardianship": "RELATIVE",
                "school": None,
                "motherAway": False,
                "identity": {"address": "江口镇旱江村3组"},
            }
        },
        as_="officer",
    )
    updated = result.ok()["updateChild"]["child"]
    assert updated["version"] == 2
    assert updated["guardianship"] == "RELATIVE"
    assert updated["school"] is None
    assert updated["parentsAbsence"] == {"fatherAway": True, "motherAway": False}
    assert updated["identity"] == {"fullName": "李小红", "address": "江口镇旱江村3组"}
    events = await count(engine, "audit_events", "action = 'child.updated'")
    assert events == 1
    # The audit log says which identity fields changed, never their values.
    assert "江口镇旱江村3组" not in repr((await snapshot(engine))["audit_events"])


async def test_moving_a_child_moves_its_needs(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await register(gql)
    opened = await gql(
        """mutation($id: ID!) { openNeed(input: {childId: $id, category: MATERIAL,
             urgency: HIGH, description: "冬衣"}) { need { id } } }""",
        {"id": child["id"]},
        as_="officer",
    )
    opened.ok()
    moved = await gql(
        UPDATE,
        {"input": {"id": child["id"], "version": 1, "regionCode": OTHER_VILLAGE_SAME_TOWNSHIP}},
        as_="officer",
    )
    assert moved.ok()["updateChild"]["child"]["region"]["code"] == OTHER_VILLAGE_SAME_TOWNSHIP
    assert await count(engine, "needs", f"region_code = '{OTHER_VILLAGE_SAME_TOWNSHIP}'") == 1


UPDATE_REFUSALS = [
    pytest.param("officer", {"version": 7}, "STALE_VERSION", id="stale-version"),
    pytest.param("ngo", {"version": 1, "school": "x"}, "FORBIDDEN", id="ngo"),
    pytest.param("foreign_officer", {"version": 1, "school": "x"}, "NOT_FOUND", id="other-county"),
    pytest.param(
        "officer", {"version": 1, "guardianship": None}, "BAD_USER_INPUT", id="clear-guardianship"
    ),
    pytest.param(
        "officer",
        {"version": 1, "fatherAway": False, "motherAway": False},
        "BAD_USER_INPUT",
        id="nobody-away",
    ),
    pytest.param(
        "officer",
        {"version": 1, "regionCode": FOREIGN_VILLAGE},
        "FORBIDDEN",
        id="move-out-of-reach",
    ),
    pytest.param("officer", {"version": 1}, "BAD_USER_INPUT", id="nothing-to-change"),
    pytest.param(
        "officer", {"version": 1, "identity": {"fullName": ""}}, "BAD_USER_INPUT", id="blank-name"
    ),
]


@pytest.mark.parametrize(("who", "changes", "code"), UPDATE_REFUSALS)
async def test_refused_updates_change_nothing(
    gql: GraphQLClient,
    world: World,
    engine: AsyncEngine,
    who: str,
    changes: dict[str, Any],
    code: str,
) -> None:
    child = await register(gql)
    before = await snapshot(engine)
    result = await gql(UPDATE, {"input": {"id": child["id"], **changes}}, as_=who)
    assert result.codes == [code], result.errors
    assert await snapshot(engine) == before


async def test_concurrent_updates_from_the_same_version_let_exactly_one_win(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    import asyncio

    child = await register(gql)
    results = await asyncio.gather(
        *(
            gql(
                UPDATE,
                {"input": {"id": child["id"], "version": 1, "school": f"学校{i}"}},
                as_="officer",
            )
            for i in range(8)
        )
    )
    winners = [r for r in results if not r.errors]
    assert len(winners) == 1
    assert sorted(code for r in results for code in r.codes) == ["STALE_VERSION"] * 7
    assert await count(engine, "children", "version = 2") == 1
