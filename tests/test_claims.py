"""Claims: nobody duplicates a need, losing is an answer, and the lifecycle is audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.pagination import encode_cursor
from tests.coordination import (
    CLAIM,
    END,
    EXTEND,
    a_child,
    a_need,
    backdate_claim,
    claim,
    claimed,
    new_key,
    scalar,
)
from tests.db_state import snapshot
from tests.graphql import GraphQLClient
from tests.world import World


async def test_an_indivisible_need_is_claimed_once(gql: GraphQLClient, world: World) -> None:
    need = await a_need(gql, await a_child(gql))
    won = await claimed(gql, need, "ngo", note="周六送到")
    assert won["claim"]["status"] == "ACTIVE"
    assert won["claim"]["quantity"] is None
    assert won["claim"]["note"] == "周六送到"
    assert won["need"]["status"] == "CLAIMED"
    assert won["need"]["remainingQuantity"] == "0.00"

    lost = (await claim(gql, need, "business")).ok()["claimNeed"]
    assert lost["__typename"] == "AlreadyClaimed"
    assert lost["holder"]["name"] == "春苗助学会"
    assert lost["until"] == won["claim"]["expiresAt"]


async def test_divisible_pledges_never_exceed_the_quantity(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql), category="FINANCIAL", quantity="1000", unit="YUAN")
    first = await claimed(gql, need, "ngo", quantity="600")
    assert first["need"]["status"] == "OPEN"  # partly pledged: still open for others
    assert first["need"]["remainingQuantity"] == "400.00"

    too_much = (await claim(gql, need, "business", quantity="500")).ok()["claimNeed"]
    assert too_much["__typename"] == "OverPledged"
    assert too_much["remaining"] == "400.00"
    assert too_much["requested"] == "500"
    assert too_much["unit"] == "YUAN"

    rest = await claimed(gql, need, "business")  # no quantity: all that remains
    assert rest["claim"]["quantity"] == "400.00"
    assert rest["need"]["status"] == "CLAIMED"
    assert await scalar(engine, "SELECT pledged_quantity FROM needs") == 1000

    nothing_left = (await claim(gql, need, "officer")).ok()["claimNeed"]
    assert nothing_left["__typename"] == "OverPledged"
    assert nothing_left["remaining"] == "0.00"


async def test_a_lost_race_writes_nothing_and_keeps_the_key_free(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = await claimed(gql, need, "ngo")
    before = await snapshot(engine)
    key = new_key()
    assert (await claim(gql, need, "business", key=key)).ok()["claimNeed"][
        "__typename"
    ] == "AlreadyClaimed"
    assert await snapshot(engine) == before
    # Once the holder lets go, the same key is a fresh attempt, and wins.
    await gql(
        END["release"],
        {"input": {"id": won["claim"]["id"], "version": won["claim"]["version"], "reason": "没空"}},
        as_="ngo",
    )
    retry = (await claim(gql, need, "business", key=key)).ok()["claimNeed"]
    assert retry["__typename"] == "ClaimNeedSuccess"


async def test_a_retry_returns_the_first_claim(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    key = new_key()
    first = await claimed(gql, need, "ngo", key=key)
    before = await snapshot(engine)
    again = await claimed(gql, need, "ngo", key=key)
    assert again["claim"]["id"] == first["claim"]["id"]
    assert await snapshot(engine) == before


async def test_a_reused_key_with_another_request_is_refused(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    need, other = await a_need(gql, child), await a_need(gql, child, category="EDUCATION")
    key = new_key()
    await claimed(gql, need, "ngo", key=key)
    before = await snapshot(engine)
    reused = await claim(gql, other, "ngo", key=key)
    assert reused.codes == ["IDEMPOTENCY_KEY_REUSED"]
    assert await snapshot(engine) == before


async def test_refusals_write_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    need = await a_need(gql, child)
    divisible = await a_need(gql, child, category="FINANCIAL", quantity="100", unit="YUAN")
    before = await snapshot(engine)
    cases = [
        (await claim(gql, need, "foreign_ngo"), "NOT_FOUND"),  # outside its jurisdiction
        (await claim(gql, need, "auditor"), "FORBIDDEN"),  # auditors do not claim
        (await claim(gql, need, "ngo", quantity="1"), "BAD_USER_INPUT"),  # indivisible
        (await claim(gql, divisible, "ngo", quantity="0.001"), "BAD_USER_INPUT"),
        (await claim(gql, divisible, "ngo", quantity="-5"), "BAD_USER_INPUT"),
        (await claim(gql, need, "ngo", expected_by="2020-01-01T00:00:00Z"), "BAD_USER_INPUT"),
        (
            await claim(
                gql,
                need,
                "ngo",
                expected_by=(datetime.now(UTC) + timedelta(days=400)).isoformat(),
            ),
            "BAD_USER_INPUT",
        ),
        (await claim(gql, need, "ngo", note="x" * 1001), "BAD_USER_INPUT"),
    ]
    for response, code in cases:
        assert response.codes == [code], response.errors
    assert await snapshot(engine) == before


async def test_a_cancelled_need_cannot_be_claimed(gql: GraphQLClient, world: World) -> None:
    need = await a_need(gql, await a_child(gql))
    cancel = """
    mutation($id: ID!) { cancelNeed(input: {id: $id, version: 1, reason: "家人已解决"}) {
      need { status } } }
    """
    assert (await gql(cancel, {"id": need}, as_="officer")).ok()
    assert (await claim(gql, need, "ngo")).codes == ["NEED_NOT_CLAIMABLE"]


async def test_release_by_the_claimant_frees_the_need(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    refused = await gql(
        END["release"],
        {"input": {"id": won["id"], "version": won["version"], "reason": "没空"}},
        as_="business",
    )
    assert refused.codes == ["NOT_CLAIMANT"]
    released = (
        await gql(
            END["release"],
            {"input": {"id": won["id"], "version": won["version"], "reason": "人手不足"}},
            as_="ngo_worker",  # another member of the same provider
        )
    ).ok()["releaseClaim"]["claim"]
    assert released["status"] == "RELEASED"
    assert released["endReason"] == "人手不足"
    assert released["need"]["status"] == "OPEN"
    again = await gql(
        END["release"],
        {"input": {"id": won["id"], "version": released["version"], "reason": "x"}},
        as_="ngo",
    )
    assert again.codes == ["CLAIM_NOT_ACTIVE"]
    actions = await scalar(
        engine, "SELECT string_agg(action, ',' ORDER BY chain_seq) FROM audit_events"
    )
    assert "claim.made" in actions and "claim.released" in actions
    assert (await claimed(gql, need, "business"))["need"]["status"] == "CLAIMED"


async def test_a_stale_version_is_refused(gql: GraphQLClient, world: World) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    extended = (
        await gql(EXTEND, {"input": {"id": won["id"], "version": won["version"]}}, as_="ngo")
    ).ok()["extendClaim"]["claim"]
    stale = await gql(
        END["release"],
        {"input": {"id": won["id"], "version": won["version"], "reason": "x"}},
        as_="ngo",
    )
    assert stale.codes == ["STALE_VERSION"]
    assert extended["version"] == won["version"] + 1


async def test_extensions_are_bounded(gql: GraphQLClient, world: World) -> None:
    need = await a_need(gql, await a_child(gql), category="SAFETY")  # seven days a time
    won = (await claimed(gql, need, "ngo"))["claim"]
    version, expires = won["version"], datetime.fromisoformat(won["expiresAt"])
    for used in (1, 2):
        extended = (
            await gql(EXTEND, {"input": {"id": won["id"], "version": version}}, as_="ngo")
        ).ok()["extendClaim"]["claim"]
        assert extended["extensionsUsed"] == used
        assert datetime.fromisoformat(extended["expiresAt"]) - expires == timedelta(days=7)
        version, expires = extended["version"], datetime.fromisoformat(extended["expiresAt"])
    third = await gql(EXTEND, {"input": {"id": won["id"], "version": version}}, as_="ngo")
    assert third.codes == ["EXTENSION_LIMIT"]
    other = await gql(EXTEND, {"input": {"id": won["id"], "version": version}}, as_="business")
    assert other.codes == ["NOT_CLAIMANT"]


async def test_fail_and_revoke(gql: GraphQLClient, world: World) -> None:
    child = await a_child(gql)
    first, second = await a_need(gql, child), await a_need(gql, child, category="EDUCATION")
    failing = (await claimed(gql, first, "ngo"))["claim"]
    failed = (
        await gql(
            END["fail"],
            {
                "input": {
                    "id": failing["id"],
                    "version": failing["version"],
                    "reason": "孩子已随父母外出",
                }
            },
            as_="ngo",
        )
    ).ok()["failClaim"]["claim"]
    assert failed["status"] == "FAILED"

    revoking = (await claimed(gql, second, "business"))["claim"]
    not_official = await gql(
        END["revoke"],
        {"input": {"id": revoking["id"], "version": revoking["version"], "reason": "x"}},
        as_="business",
    )
    assert not_official.codes == ["FORBIDDEN"]
    no_reason = await gql(
        END["revoke"],
        {"input": {"id": revoking["id"], "version": revoking["version"], "reason": "  "}},
        as_="director",
    )
    assert no_reason.codes == ["BAD_USER_INPUT"]
    revoked = (
        await gql(
            END["revoke"],
            {
                "input": {
                    "id": revoking["id"],
                    "version": revoking["version"],
                    "reason": "长期未联系家庭",
                }
            },
            as_="director",
        )
    ).ok()["revokeClaim"]["claim"]
    assert revoked["status"] == "REVOKED"
    assert revoked["need"]["status"] == "OPEN"


async def test_an_overdue_claim_reads_expired_and_frees_the_need(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    won = (await claimed(gql, need, "ngo"))["claim"]
    await backdate_claim(engine, won["id"], expires_at="1 minute", expected_by="2 minutes")
    # Nobody has swept yet: the row still says active, every read says expired.
    assert await scalar(engine, "SELECT status::text FROM claims") == "active"
    read = await gql(
        "query($id: ID!) { node(id: $id) { ... on Claim { status overdue } } }",
        {"id": won["id"]},
        as_="ngo",
    )
    assert read.ok()["node"] == {"status": "EXPIRED", "overdue": False}
    for verb in ("release", "fail"):
        refused = await gql(
            END[verb],
            {"input": {"id": won["id"], "version": won["version"], "reason": "x"}},
            as_="ngo",
        )
        assert refused.codes == ["CLAIM_EXPIRED"]
    refused = await gql(EXTEND, {"input": {"id": won["id"], "version": won["version"]}}, as_="ngo")
    assert refused.codes == ["CLAIM_EXPIRED"]
    # A newcomer is not refused because of it: the claim expires, exactly once, and audited.
    newcomer = await claimed(gql, need, "business")
    assert newcomer["need"]["status"] == "CLAIMED"
    assert (
        await scalar(engine, "SELECT count(*) FROM audit_events WHERE action = 'claim.expired'")
        == 1
    )


async def test_claims_list_and_need_claims(gql: GraphQLClient, world: World) -> None:
    child = await a_child(gql)
    need = await a_need(gql, child)
    other = await a_need(gql, child, category="EDUCATION")
    mine = (await claimed(gql, need, "ngo"))["claim"]
    await claimed(gql, other, "business")
    listed = await gql(
        """
        { claims(filter: {mine: true, statuses: [ACTIVE]}) { nodes { id provider { name } } } }
        """,
        as_="ngo_worker",
    )
    assert [n["id"] for n in listed.ok()["claims"]["nodes"]] == [mine["id"]]
    on_need = await gql(
        "query($id: ID!) { need(id: $id) { claims { id status } pledgedQuantity } }",
        {"id": need},
        as_="officer",
    )
    assert on_need.ok()["need"] == {
        "claims": [{"id": mine["id"], "status": "ACTIVE"}],
        "pledgedQuantity": "1.00",
    }


async def test_cancelling_a_need_revokes_its_claims(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql), category="FINANCIAL", quantity="300", unit="YUAN")
    await claimed(gql, need, "ngo", quantity="100")
    await claimed(gql, need, "business", quantity="100")
    update = """
    mutation($id: ID!, $v: Int!) { updateNeed(input: {id: $id, version: $v, urgency: LOW}) {
      need { id } } }
    """
    version = await scalar(engine, "SELECT version FROM needs")
    assert (await gql(update, {"id": need, "v": version}, as_="officer")).codes == ["CONFLICT"]
    cancel = """
    mutation($id: ID!, $v: Int!) {
      cancelNeed(input: {id: $id, version: $v, reason: "已由民政救助"}) {
        need { status pledgedQuantity claims { status endReason } }
      }
    }
    """
    cancelled = (await gql(cancel, {"id": need, "v": version}, as_="officer")).ok()["cancelNeed"][
        "need"
    ]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["pledgedQuantity"] == "0.00"
    assert {c["status"] for c in cancelled["claims"]} == {"REVOKED"}
    assert all("已由民政救助" in c["endReason"] for c in cancelled["claims"])
    assert (
        await scalar(engine, "SELECT count(*) FROM audit_events WHERE action = 'claim.revoked'")
        == 2
    )


async def test_claim_mutation_requires_a_key(gql: GraphQLClient, world: World) -> None:
    need = await a_need(gql, await a_child(gql))
    missing = await gql(
        CLAIM.replace("$key: String!", "$key: String"), {"input": {"needId": need}}, as_="ngo"
    )
    assert missing.errors


async def test_claims_page_through_and_refuse_forged_cursors(
    gql: GraphQLClient, world: World
) -> None:
    child = await a_child(gql)
    made = []
    for category in ("MATERIAL", "EDUCATION", "MEDICAL"):
        made.append(
            (await claimed(gql, await a_need(gql, child, category=category), "ngo"))["claim"]
        )
    query = """
    query($after: String, $before: DateTime) {
      claims(first: 2, after: $after, filter: {expiringBefore: $before}) {
        nodes { id } pageInfo { hasNextPage endCursor }
      }
    }
    """
    first = (await gql(query, as_="ngo")).ok()["claims"]
    assert [n["id"] for n in first["nodes"]] == [made[2]["id"], made[1]["id"]]  # newest first
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await gql(query, {"after": first["pageInfo"]["endCursor"]}, as_="ngo")).ok()["claims"]
    assert [n["id"] for n in rest["nodes"]] == [made[0]["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False
    for forged in (
        encode_cursor("claim", ["yesterday", "x"]),
        encode_cursor("claim", [1, 2]),
        encode_cursor("claim", ["2026-01-01T00:00:00", str(uuid.uuid4())]),  # no time zone
        encode_cursor("need.urgency", ["high", "2026-01-01T00:00:00+00:00", str(uuid.uuid4())]),
    ):
        assert (await gql(query, {"after": forged}, as_="ngo")).codes == ["BAD_USER_INPUT"]
    naive = await gql(query, {"before": "2030-01-01T00:00:00"}, as_="ngo")
    assert naive.codes == ["BAD_USER_INPUT"]
    soon = (datetime.now(UTC) + timedelta(days=100)).isoformat()
    assert len((await gql(query, {"before": soon}, as_="ngo")).ok()["claims"]["nodes"]) == 2
