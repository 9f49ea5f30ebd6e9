"""The compiled claim (``hub.fast_claim``) answers as the normal path does and writes the same,
for every outcome and refusal; what it leaves to the normal path it leaves before writing
anything, so that a claim never runs twice."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from bench import scenarios
from hub import fast_claim, fast_path
from hub.app import create_app
from hub.settings import Settings
from tests.auth import Tokens
from tests.coordination import a_child, a_need, claimed, new_key, uuid_of
from tests.db_state import snapshot
from tests.graphql import GraphQLClient, GraphQLResponse
from tests.test_claim_categories import serves
from tests.test_trusted_documents import RESTRICT, TRUST, integration
from tests.world import COUNTY, World

COMPILED = fast_claim.CLAIM_NEED
# The same operation, not the compiled document (a comment after it): GraphQL executes it as
# always, and its errors point at the same lines.
NORMAL = fast_claim.CLAIM_NEED + "# executed by the normal path\n"


def test_the_benchmark_sends_the_compiled_document() -> None:
    assert scenarios.CLAIM_NEED == COMPILED


async def _claim(
    gql: GraphQLClient, document: str, need: str, as_: str, key: str | None = None
) -> GraphQLResponse:
    return await gql(document, {"need": need, "key": key or new_key()}, as_=as_)


_INSTANTS = ("expires_at", "expected_by")


async def _effects(engine: AsyncEngine, need: str) -> dict[str, Any]:
    """What a claim on ``need`` wrote, without what differs from one claim to the next (ids,
    instants): the need's totals, its claims, their audit events and idempotency keys."""
    need_id = uuid_of(need)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT status, pledged_quantity, version FROM needs WHERE id = :id"),
                {"id": need_id},
            )
        ).one()
        claims = (
            await connection.execute(
                text(
                    "SELECT id, status, provider_id, claimed_by_member_id, client_id, quantity,"
                    " note, extensions, delivered_quantity, verified_quantity, version,"
                    " ended_at IS NULL AS running,"
                    " expected_by = expires_at AS promised_at_deadline,"
                    " round(extract(epoch FROM expires_at - claimed_at) / 3600) AS hours"
                    " FROM claims WHERE need_id = :id ORDER BY claimed_at"
                ),
                {"id": need_id},
            )
        ).all()
        claim_ids = [str(claim.id) for claim in claims]
        events = (
            await connection.execute(
                text(
                    "SELECT action, entity_type, entity_id, actor_member_id, actor_provider_id,"
                    " client_id, region_code, data FROM audit_events"
                    " WHERE entity_id = ANY(:ids) OR data->>'claim_id' = ANY(:ids) ORDER BY id"
                ),
                {"ids": [*claim_ids, str(need_id)]},
            )
        ).all()
        keys = (
            await connection.execute(
                text(
                    "SELECT operation, result_id FROM idempotency_keys"
                    " WHERE result_id = ANY(:ids) ORDER BY created_at"
                ),
                {"ids": claim_ids},
            )
        ).all()
    named = {value: f"claim-{n}" for n, value in enumerate(claim_ids)} | {str(need_id): "need"}

    def anonymous(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: anonymous(v) for k, v in value.items() if k not in _INSTANTS}
        if isinstance(value, list):
            return [anonymous(v) for v in value]
        return named.get(str(value), value) if value is not None else None

    return {
        "need": tuple(row),
        "claims": [tuple(anonymous(v) for v in claim) for claim in claims],
        "events": [tuple(anonymous(v) for v in event) for event in events],
        "keys": [tuple(anonymous(v) for v in key) for key in keys],
    }


def _shape(response: GraphQLResponse, engine_claims: dict[str, Any]) -> dict[str, Any]:
    """The response with the claim's id and deadline checked against what was written and
    replaced by placeholders (two claims differ in those, nothing else)."""
    body: dict[str, Any] = {
        "status": response.status_code,
        "data": response.data,
        "errors": response.errors,
    }
    claim = ((response.data or {}).get("claimNeed") or {}).get("claim")
    if claim is not None:
        assert claim["id"] == engine_claims["id"]
        assert claim["expiresAt"] == engine_claims["expiresAt"]
        body = {**body, "data": {"claimNeed": {**response.data["claimNeed"]}}}  # type: ignore[index]
        body["data"]["claimNeed"]["claim"] = {**claim, "id": "<id>", "expiresAt": "<deadline>"}
    return body


async def _written_claim(engine: AsyncEngine, need: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT id, expires_at FROM claims WHERE need_id = :id AND status = 'active'"),
                {"id": uuid_of(need)},
            )
        ).first()
    if row is None:
        return {}
    return {
        "id": base64.b64encode(f"Claim:{row.id}".encode()).decode(),
        "expiresAt": row.expires_at.isoformat(),
    }


async def _both(gql: GraphQLClient, engine: AsyncEngine, needs: tuple[str, str], as_: str) -> None:
    """The compiled claim on one need and the normal path's on its twin answer alike and
    write alike."""
    answers, effects = [], []
    for document, need in zip((COMPILED, NORMAL), needs, strict=True):
        response = await _claim(gql, document, need, as_)
        answers.append(_shape(response, await _written_claim(engine, need)))
        effects.append(await _effects(engine, need))
    assert answers[0] == answers[1], as_
    assert effects[0] == effects[1], as_


async def _twins(gql: GraphQLClient, **kwargs: Any) -> tuple[str, str]:
    child = await a_child(gql)
    return await a_need(gql, child, **kwargs), await a_need(gql, child, **kwargs)


async def over_the_rate_limit(engine: AsyncEngine, member_id: uuid.UUID) -> None:
    """The member's budget spent for the next hour: any operation of theirs is refused."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO rate_limits (key, paid_off_at) VALUES (:key, now() + interval '1 h')"
            ),
            {"key": f"member:{member_id}"},
        )


def answered(response: GraphQLResponse) -> tuple[Any, ...]:
    """What two paths must answer alike: the status, the data and the errors."""
    return (response.status_code, response.data, response.errors)


async def test_a_claim_answers_and_writes_as_the_normal_path_for_every_claimant(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    for claimant in ("ngo", "ngo_worker", "business", "officer", "director", "admin"):
        await _both(gql, engine, await _twins(gql), claimant)


async def test_a_refusal_answers_as_the_normal_path_and_writes_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    needs = await _twins(gql)
    before = await snapshot(engine)
    for reader in ("foreign_ngo", "admin"):  # out of reach; no right to claim
        compiled = await _claim(gql, COMPILED, needs[0], reader)
        normal = await _claim(gql, NORMAL, needs[0], reader)
        assert compiled.errors and compiled.data is None, reader
        assert (compiled.status_code, compiled.errors) == (normal.status_code, normal.errors)
    await serves(engine, world, "business", "FINANCIAL")
    before = await snapshot(engine)
    compiled = await _claim(gql, COMPILED, needs[0], "business")
    normal = await _claim(gql, NORMAL, needs[0], "business")
    assert compiled.codes == ["CATEGORY_NOT_SERVED"]
    assert compiled.errors[0]["locations"] == [{"line": 3, "column": 3}]
    assert compiled.errors[0]["path"] == ["claimNeed"]
    assert answered(compiled) == answered(normal)
    assert await snapshot(engine) == before


async def test_losing_a_race_answers_as_the_normal_path_and_writes_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    taken = await a_need(gql, await a_child(gql))
    holder = await claimed(gql, taken, "business")
    pledged = await a_need(gql, await a_child(gql), quantity="10")
    await claimed(gql, pledged, "business", quantity="10")
    before = await snapshot(engine)
    for need, kind in ((taken, "AlreadyClaimed"), (pledged, "OverPledged")):
        compiled = await _claim(gql, COMPILED, need, "ngo")
        normal = await _claim(gql, NORMAL, need, "ngo")
        assert compiled.ok()["claimNeed"]["__typename"] == kind
        assert compiled.data == normal.data and compiled.status_code == normal.status_code
    until = (await _claim(gql, COMPILED, taken, "ngo")).ok()["claimNeed"]["until"]
    assert until == holder["claim"]["expiresAt"]
    assert await snapshot(engine) == before


async def test_an_overdue_claim_is_expired_for_the_newcomer_on_both_paths(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    needs = await _twins(gql)
    for need in needs:
        held = await claimed(gql, need, "business")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE claims SET expires_at = now() - interval '1 day',"
                    " expected_by = now() - interval '2 days' WHERE id = :id"
                ),
                {"id": uuid_of(held["claim"]["id"])},
            )
    await _both(gql, engine, needs, "ngo")
    effects = await _effects(engine, needs[0])
    assert [claim[1] for claim in effects["claims"]] == ["expired", "active"]
    assert [event[0] for event in effects["events"]][-4:] == [
        "claim.expired",
        "need.status_changed",
        "claim.made",
        "need.status_changed",
    ]


async def test_a_replay_gives_the_first_claim_on_either_path(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need, other = await _twins(gql)
    key = new_key()
    first = (await _claim(gql, COMPILED, need, "ngo", key)).ok()["claimNeed"]
    for document in (COMPILED, NORMAL, COMPILED):
        again = (await _claim(gql, document, need, "ngo", key)).ok()["claimNeed"]
        assert again == first
    effects = await _effects(engine, need)
    assert len(effects["claims"]) == 1 and effects["keys"] == [("claimNeed", "claim-0")]
    # The key names that claim: for another need it is refused, alike on both paths.
    compiled = await _claim(gql, COMPILED, other, "ngo", key)
    normal = await _claim(gql, NORMAL, other, "ngo", key)
    assert compiled.codes == ["IDEMPOTENCY_KEY_REUSED"]
    assert compiled.errors == normal.errors
    assert (await _effects(engine, other))["claims"] == []


async def test_a_claim_sent_by_hash_is_answered_compiled(
    http: httpx.AsyncClient, gql: GraphQLClient, tokens: Tokens, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    token = await tokens.member("ngo")
    sha = hashlib.sha256(COMPILED.encode()).hexdigest()
    body = {
        "variables": {"need": need, "key": new_key()},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
    }
    response = await http.post("/graphql", json=body, headers={"authorization": f"Bearer {token}"})
    assert response.json()["data"]["claimNeed"]["__typename"] == "ClaimNeedSuccess"
    assert len((await _effects(engine, need))["claims"]) == 1


async def test_what_the_compiled_claim_leaves_to_the_normal_path_is_answered_alike(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    before = await snapshot(engine)
    cases: list[tuple[str | None, dict[str, object]]] = [
        (None, {"need": need, "key": "k"}),  # no token
        ("ngo", {"need": "not-an-id", "key": "k"}),
        ("ngo", {"need": base64.b64encode(b"Child:x").decode(), "key": "k"}),
        ("ngo", {"need": need, "key": 7}),
        ("ngo", {"need": need}),
        ("ngo", {"need": need, "key": ""}),  # refused by the domain, inside the transaction
    ]
    for as_, variables in cases:
        compiled = await gql(COMPILED, variables, as_=as_)
        normal = await gql(NORMAL, variables, as_=as_)
        assert compiled.errors, (as_, variables)
        for body in (compiled, normal):
            for error in body.errors:
                error.get("extensions", {}).pop("requestId", None)
        assert answered(compiled) == answered(normal), (as_, variables)
    assert await snapshot(engine) == before


async def test_a_restricted_client_is_held_to_its_trusted_documents(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    tokens: Tokens,
) -> None:
    need = await a_need(gql, await a_child(gql))
    client_id, token = await integration(engine, settings, world, tokens)
    (await gql(RESTRICT, {"id": client_id, "only": True}, as_="admin")).ok()
    before = await snapshot(engine)
    headers = {"authorization": f"Bearer {token}"}
    body = {"query": COMPILED, "variables": {"need": need, "key": new_key()}}
    refused = await http.post("/graphql", json=body, headers=headers)
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["OPERATION_NOT_TRUSTED"]
    assert await snapshot(engine) == before
    trusted = {"clientId": client_id, "name": "claim", "document": COMPILED}
    (await gql(TRUST, {"input": trusted}, as_="admin")).ok()
    allowed = await http.post("/graphql", json=body, headers=headers)
    assert allowed.json()["data"]["claimNeed"]["__typename"] == "ClaimNeedSuccess"
    assert len((await _effects(engine, need))["claims"]) == 1


async def test_over_the_rate_limit_the_claim_is_refused_as_on_the_normal_path(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    await over_the_rate_limit(engine, world.members["ngo"])
    before = await snapshot(engine)
    compiled = await _claim(gql, COMPILED, need, "ngo", "k")
    normal = await _claim(gql, NORMAL, need, "ngo", "k")
    assert compiled.status_code == 429 and compiled.codes == ["RATE_LIMITED"]
    for response in (compiled, normal):
        response.errors[0]["extensions"].pop("retryAfter")
    assert answered(compiled) == answered(normal)
    assert await snapshot(engine) == before


async def test_an_unexpected_failure_before_the_commit_falls_back_and_claims_once(
    gql: GraphQLClient, world: World, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled claim fails after writing, before committing: its transaction rolls back,
    and the normal path claims, once."""

    def broken(outcome: object) -> dict[str, Any]:
        raise RuntimeError("a bug in the compiled answer")

    monkeypatch.setattr(fast_claim, "_selection", broken)
    need = await a_need(gql, await a_child(gql))
    answer = (await _claim(gql, COMPILED, need, "ngo")).ok()["claimNeed"]
    assert answer["__typename"] == "ClaimNeedSuccess"
    effects = await _effects(engine, need)
    assert len(effects["claims"]) == 1 and len(effects["keys"]) == 1
    assert [event[0] for event in effects["events"]] == [
        "need.opened",
        "claim.made",
        "need.status_changed",
    ]


@pytest.fixture
def quick_timeout(settings: Settings) -> Settings:
    return dataclasses.replace(settings, request_timeout_seconds=0.5)


@pytest.fixture
async def impatient_http(engine: AsyncEngine, quick_timeout: Settings) -> AsyncIterator[Any]:
    application: Starlette = create_app(quick_timeout, engine=engine)
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://hub.test"
        ) as client,
    ):
        yield client


async def test_a_claim_past_the_request_timeout_is_answered_as_on_the_normal_path(
    gql: GraphQLClient,
    tokens: Tokens,
    world: World,
    engine: AsyncEngine,
    impatient_http: httpx.AsyncClient,
) -> None:
    """Held up by another transaction's lock on the need, the claim ends at the timeout on
    both paths alike (504, TIMEOUT) and writes nothing."""
    need = await a_need(gql, await a_child(gql))
    token = await tokens.member("ngo")
    before = await snapshot(engine)
    answers = []
    async with engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM needs WHERE id = :id FOR UPDATE"), {"id": uuid_of(need)}
        )
        for document in (COMPILED, NORMAL):
            body = {"query": document, "variables": {"need": need, "key": new_key()}}
            response = await asyncio.wait_for(
                impatient_http.post(
                    "/graphql", json=body, headers={"authorization": f"Bearer {token}"}
                ),
                timeout=30,
            )
            answers.append((response.status_code, response.json()))
        await holder.rollback()
    assert answers[0] == answers[1]
    assert answers[0][0] == 504
    assert [e["extensions"]["code"] for e in answers[0][1]["errors"]] == ["TIMEOUT"]
    assert await snapshot(engine) == before


def test_only_the_exact_document_is_compiled() -> None:
    assert fast_claim.DOCUMENT.requested_text({"query": COMPILED}) == COMPILED
    assert fast_claim.DOCUMENT.requested_text({"query": " ".join(COMPILED.split())}) is not None
    assert fast_claim.DOCUMENT.requested_text({"query": NORMAL}) is None
    assert (
        fast_claim.DOCUMENT.requested_text({"query": COMPILED.replace("until", "until message")})
        is None
    )
    sha = hashlib.sha256(COMPILED.encode()).hexdigest()
    persisted = {"version": 1, "sha256Hash": sha}
    assert (
        fast_claim.DOCUMENT.requested_text({"extensions": {"persistedQuery": persisted}})
        == COMPILED
    )
    wrong = {"query": NORMAL, "extensions": {"persistedQuery": persisted}}
    assert fast_claim.DOCUMENT.requested_text(wrong) is None
    malformed = {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha}}}
    assert fast_claim.DOCUMENT.requested_text(malformed) is None


async def test_a_refused_claim_neither_takes_nor_waits_for_the_needs_lock(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    await serves(engine, world, "business", "FINANCIAL")
    async with engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM needs WHERE id = :id FOR UPDATE"), {"id": uuid_of(need)}
        )
        for document in (COMPILED, NORMAL):
            for reader, code in (("business", "CATEGORY_NOT_SERVED"), ("foreign_ngo", "NOT_FOUND")):
                refused = await asyncio.wait_for(_claim(gql, document, need, reader), timeout=10)
                assert refused.codes == [code], (document, reader)
        await holder.rollback()


async def test_a_claim_made_overdue_while_the_claimant_waited_is_expired_for_it(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """The locking read waits for a transaction that makes the holder's claim overdue; its own
    view of the claims predates that, but the pledge that does not fit looks again."""
    for document in (COMPILED, NORMAL):
        need = await a_need(gql, await a_child(gql))
        held = await claimed(gql, need, "business")
        async with engine.connect() as other:
            await other.execute(
                text("SELECT 1 FROM needs WHERE id = :id FOR UPDATE"), {"id": uuid_of(need)}
            )
            await other.execute(
                text(
                    "UPDATE claims SET expires_at = now() - interval '1 day',"
                    " expected_by = now() - interval '2 days' WHERE id = :id"
                ),
                {"id": uuid_of(held["claim"]["id"])},
            )
            waiting = asyncio.create_task(_claim(gql, document, need, "ngo"))
            await asyncio.sleep(0.5)
            assert not waiting.done()
            await other.commit()
        answer = (await asyncio.wait_for(waiting, timeout=10)).ok()["claimNeed"]
        assert answer["__typename"] == "ClaimNeedSuccess", document
        effects = await _effects(engine, need)
        assert [claim[1] for claim in effects["claims"]] == ["expired", "active"]


async def test_a_request_by_hash_alone_the_compiled_path_leaves_is_answered_as_by_text(
    http: httpx.AsyncClient, gql: GraphQLClient, world: World, engine: AsyncEngine, tokens: Tokens
) -> None:
    """Over the rate limit the compiled claim and page leave a request to the normal path. Sent
    by hash alone, it is refused for the limit, as the same request with its text would be, not
    as a document the hub does not know (the hub knows its compiled documents by hash)."""
    need = await a_need(gql, await a_child(gql))
    await over_the_rate_limit(engine, world.members["ngo"])
    headers = {"authorization": f"Bearer {await tokens.member('ngo')}"}
    before = await snapshot(engine)
    for document, variables in (
        (COMPILED, {"need": need, "key": new_key()}),
        (fast_path.NEEDS_PAGE, {"county": COUNTY}),
    ):
        sha = hashlib.sha256(document.encode()).hexdigest()
        by_hash = {
            "variables": variables,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
        }
        response = await http.post("/graphql", json=by_hash, headers=headers)
        assert response.status_code == 429, response.text
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["RATE_LIMITED"]
    # Nothing claimed or changed; the normal path keeps a document sent with its hash, as it
    # does for any such request.
    after = await snapshot(engine)
    after.pop("persisted_documents"), before.pop("persisted_documents")
    assert after == before
