"""The audit log: append-only by the database's own rule, and a hash chain that shows tampering."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.auth.principal import Grant, Principal
from hub.db.engine import session_factory
from hub.domain import audit
from hub.domain.pagination import encode_cursor
from hub.settings import Settings
from hub.vocabulary import ProviderKind, Role
from tests.coordination import a_child, a_need, claimed, link_audit, scalar
from tests.graphql import GraphQLClient
from tests.world import World

CHAIN = "{ auditChain { intact checked brokenAt problem } }"


async def some_history(gql: GraphQLClient) -> None:
    need = await a_need(gql, await a_child(gql))
    await claimed(gql, need, "ngo")


async def test_the_database_refuses_to_change_or_delete_events(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await some_history(gql)
    for statement in (
        "UPDATE audit_events SET action = 'nothing.happened'",
        "DELETE FROM audit_events WHERE action = 'claim.made'",
        "TRUNCATE audit_events",
        # Emptying the tables the log names would take the log with it.
        "TRUNCATE members, providers CASCADE",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    assert (
        await scalar(engine, "SELECT count(*) FROM audit_events WHERE action = 'claim.made'") == 1
    )


async def test_an_untouched_chain_is_intact(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await some_history(gql)
    events = await scalar(engine, "SELECT count(*) FROM audit_events")
    check = (await gql(CHAIN, as_="auditor")).ok()["auditChain"]
    assert check == {"intact": True, "checked": events, "brokenAt": None, "problem": None}
    assert (await gql(CHAIN, as_="ngo")).codes == ["FORBIDDEN"]


async def tamper(engine: AsyncEngine, statement: str) -> None:
    """What someone with the owner's rights could do: switch the guard off, change, switch on."""
    async with engine.begin() as connection:
        await connection.execute(
            text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        )
        await connection.execute(text(statement))
        await connection.execute(
            text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        )


async def test_a_changed_event_breaks_the_chain(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await some_history(gql)
    await link_audit(engine)
    seq = await scalar(engine, "SELECT chain_seq FROM audit_events WHERE action = 'claim.made'")
    await tamper(
        engine,
        'UPDATE audit_events SET data = data || \'{"quantity": "999"}\''
        " WHERE action = 'claim.made'",
    )
    check = (await gql(CHAIN, as_="auditor")).ok()["auditChain"]
    assert check["intact"] is False
    assert check["brokenAt"] == seq
    assert check["problem"] == "its content does not match its hash"


async def test_a_rehashed_event_still_breaks_the_link(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """Recomputing the changed row's own hash does not help: the next event links to the old one."""
    await some_history(gql)
    await link_audit(engine)
    seq = await scalar(engine, "SELECT chain_seq FROM audit_events WHERE action = 'claim.made'")
    async with engine.begin() as connection:
        await connection.execute(
            text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        )
        await connection.execute(
            text("UPDATE audit_events SET action = 'claim.nothing' WHERE action = 'claim.made'")
        )
        await connection.execute(
            text(
                "UPDATE audit_events SET hash = audit_event_digest(audit_events)"
                " WHERE action = 'claim.nothing'"
            )
        )
        await connection.execute(
            text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        )
    check = (await gql(CHAIN, as_="auditor")).ok()["auditChain"]
    assert check["intact"] is False
    assert check["brokenAt"] == seq + 1
    assert check["problem"] == "it does not link to the event before it"


async def test_a_deleted_event_breaks_the_chain(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await some_history(gql)
    await link_audit(engine)
    seq = await scalar(engine, "SELECT chain_seq FROM audit_events WHERE action = 'claim.made'")
    await tamper(engine, "DELETE FROM audit_events WHERE action = 'claim.made'")
    check = (await gql(CHAIN, as_="auditor")).ok()["auditChain"]
    assert check["intact"] is False
    assert check["brokenAt"] == seq + 1
    assert check["problem"] == f"event {seq} is missing"


async def test_concurrent_writers_keep_one_chain(world: World, engine: AsyncEngine) -> None:
    sessions = session_factory(engine)

    async def write(n: int) -> None:
        async with sessions.begin() as session:
            for i in range(3):
                audit.record(session, None, "test.write", "test", f"{n}-{i}", {"n": n})
            await session.flush()
            await asyncio.sleep(0.001 * (n % 3))

    await asyncio.gather(*(write(n) for n in range(30)))
    async with sessions() as session:
        auditor = Principal(
            provider_id=world.providers["gan_bureau"],
            provider_kind=ProviderKind.GOVERNMENT,
            grants=(Grant(Role.AUDITOR, "360721"),),
        )
        check = await audit.check_chain(session, auditor)
    assert check == audit.ChainCheck(intact=True, checked=90)


async def test_auditors_read_events_with_their_place_in_the_chain(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    await some_history(gql)
    query = """
    query($filter: AuditFilter) {
      auditEvents(filter: $filter, first: 50) {
        nodes { seq action entityType regionCode actorProviderId hash prevHash }
      }
    }
    """
    events = (await gql(query, as_="auditor")).ok()["auditEvents"]["nodes"]
    assert [e["action"] for e in events][-3:] == ["claim.made", "need.opened", "child.registered"]
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    # Newest first: each event's previous hash is the hash of the one listed after it.
    for newer, older in itertools.pairwise(events):
        if newer["seq"] == older["seq"] + 1:
            assert newer["prevHash"] == older["hash"]
    assert all(e["regionCode"].startswith("360721") for e in events)
    made = next(e for e in events if e["action"] == "claim.made")
    assert made["actorProviderId"] == str(world.providers["ngo"])
    claims_only = (await gql(query, {"filter": {"entityType": "claim"}}, as_="auditor")).ok()
    assert {e["action"] for e in claims_only["auditEvents"]["nodes"]} == {"claim.made"}
    assert (await gql(query, as_="ngo")).codes == ["FORBIDDEN"]


async def test_the_audit_log_pages_and_refuses_forged_cursors(
    gql: GraphQLClient, world: World
) -> None:
    await some_history(gql)
    query = """
    query($after: String) {
      auditEvents(first: 2, after: $after) { nodes { seq } pageInfo { hasNextPage endCursor } }
    }
    """
    first = (await gql(query, as_="auditor")).ok()["auditEvents"]
    rest = (await gql(query, {"after": first["pageInfo"]["endCursor"]}, as_="auditor")).ok()
    seqs = [n["seq"] for n in first["nodes"]] + [n["seq"] for n in rest["auditEvents"]["nodes"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs) == 4
    for forged in (encode_cursor("audit", ["7"]), encode_cursor("audit", [True])):
        assert (await gql(query, {"after": forged}, as_="auditor")).codes == ["BAD_USER_INPUT"]


async def test_an_unlinked_event_accepts_only_its_link(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """Writers commit events unlinked; the one change the guard allows is linking, and the guard
    computes the link itself, whatever the UPDATE said."""
    await some_history(gql)
    await link_audit(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_events (action, entity_type, entity_id, data)"
                " VALUES ('test.late', 'test', '1', '{}')"
            )
        )
    assert await scalar(engine, "SELECT count(*) FROM audit_events WHERE chain_seq IS NULL") == 1
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_events SET action = 'test.other' WHERE chain_seq IS NULL")
            )
    last = await scalar(engine, "SELECT max(chain_seq) FROM audit_events")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE audit_events SET chain_seq = 999999, hash = 'forged', prev_hash = 'x'"
                " WHERE chain_seq IS NULL"
            )
        )
    assert await scalar(
        engine, "SELECT chain_seq FROM audit_events WHERE action = 'test.late'"
    ) == (last + 1)
    check = (await gql(CHAIN, as_="auditor")).ok()["auditChain"]
    assert check["intact"] is True
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_events SET chain_seq = 0 WHERE action = 'test.late'")
            )


async def test_writers_do_not_wait_for_one_another_on_the_chain(
    world: World, engine: AsyncEngine
) -> None:
    """Two writing transactions open at once both insert events: neither waits for the other
    (before, the second waited for the first's commit), and both end up in the chain."""
    sessions = session_factory(engine)
    async with sessions.begin() as first:
        audit.record(first, None, "test.first", "test", "1")
        await first.flush()
        async with sessions.begin() as second:
            audit.record(second, None, "test.second", "test", "2")
            await asyncio.wait_for(second.flush(), timeout=5)
    async with sessions() as session:
        auditor = Principal(
            provider_id=world.providers["gan_bureau"],
            provider_kind=ProviderKind.GOVERNMENT,
            grants=(Grant(Role.AUDITOR, "360721"),),
        )
        check = await audit.check_chain(session, auditor)
    assert check.intact
    assert await scalar(engine, "SELECT count(*) FROM audit_events WHERE chain_seq IS NULL") == 0


async def test_every_hub_links_committed_events_in_the_background(
    gql: GraphQLClient, world: World, engine: AsyncEngine, settings: Settings
) -> None:
    await some_history(gql)
    unlinked = "SELECT count(*) FROM audit_events WHERE chain_seq IS NULL"
    assert await scalar(engine, unlinked) > 0  # the test app links nothing by itself
    linking = dataclasses.replace(settings, audit_link_interval_seconds=0.1)
    async with LifespanManager(create_app(linking, engine=engine)):
        for _ in range(100):
            if await scalar(engine, unlinked) == 0:
                break
            await asyncio.sleep(0.1)
    assert await scalar(engine, unlinked) == 0
    assert (await gql(CHAIN, as_="auditor")).ok()["auditChain"]["intact"]
