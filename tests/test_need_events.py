"""needEvents over graphql-transport-ws: every transition arrives, only for needs the subscriber
may see, through PostgreSQL LISTEN/NOTIFY, so across hub processes too."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.db.engine import session_factory
from hub.domain.event_broker import EventBroker, SlowSubscriber
from hub.domain.events import CHANNEL, NeedEvent, NeedEventKind
from hub.domain.sweeper import sweep_once
from hub.settings import Settings
from hub.vocabulary import NeedCategory
from tests.auth import Tokens
from tests.conftest import TEST_SETTINGS
from tests.coordination import (
    END,
    VERIFY,
    a_child,
    a_need,
    backdate_claim,
    claimed,
    log,
    uuid_of,
)
from tests.events_client import EventStream, Rejected, listening, subscribed, until
from tests.graphql import GraphQLClient
from tests.query_counter import count_statements
from tests.world import (
    COUNTY,
    FOREIGN_VILLAGE,
    OTHER_COUNTY,
    OTHER_VILLAGE_SAME_TOWNSHIP,
    VILLAGE,
    World,
)

ROOT = Path(__file__).resolve().parent.parent
QUEUE_SIZE = 4

CANCEL = """
mutation($input: CancelNeedInput!) { cancelNeed(input: $input) { need { id status } } }
"""
UPDATE = """
mutation($input: UpdateNeedInput!) { updateNeed(input: $input) { need { id version } } }
"""
MERGE = """
mutation($input: MergeChildrenInput!) { mergeChildren(input: $input) { merge { id } } }
"""
UNMERGE = """
mutation($input: UnmergeChildrenInput!) { unmergeChildren(input: $input) { merge { id } } }
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Small queues, to see a slow subscriber dropped; quick re-checks, to see a revoked role
    end an idle stream."""
    return Settings(
        env="dev",
        data_dir=tmp_path,
        events_queue_size=QUEUE_SIZE,
        events_recheck_seconds=1.0,
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )


@pytest.fixture
async def hub(app: Starlette) -> AsyncIterator[str]:
    """The test's hub on a real local port, listening for events."""
    async with listening(app) as address:
        yield address


async def subscribers(app: Starlette, count: int) -> None:
    """Wait until the hub has ``count`` subscriptions registered: a subscribe message is
    answered only by events, so this is how a test knows it will not miss the first one."""
    await until(lambda: app.state.event_broker.subscribers == count)


async def expect(stream: EventStream, kind: str, need: str) -> dict[str, object]:
    event = await stream.next_event()
    assert (event["kind"], event["need"]["id"]) == (kind, need), event
    return event


async def test_every_transition_reaches_a_subscriber(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    async with subscribed(hub, await tokens.member("ngo")) as stream:
        await subscribers(app, 1)
        need = await a_need(gql, child)
        opened = await expect(stream, "OPENED", need)
        assert opened["need"]["status"] == "OPEN"
        assert datetime.fromisoformat(str(opened["at"])) <= datetime.now(UTC)

        first = (await claimed(gql, need, "ngo"))["claim"]
        assert (await expect(stream, "CLAIMED", need))["need"]["status"] == "CLAIMED"
        released = await gql(
            END["release"],
            {"input": {"id": first["id"], "version": first["version"], "reason": "no stock"}},
            as_="ngo",
        )
        released.ok()
        assert (await expect(stream, "RELEASED", need))["need"]["status"] == "OPEN"

        second = (await claimed(gql, need, "ngo"))["claim"]
        await expect(stream, "CLAIMED", need)
        await backdate_claim(engine, second["id"], expires_at="1 minute")
        assert await sweep_once(session_factory(engine)) == 1
        assert (await expect(stream, "EXPIRED", need))["need"]["status"] == "OPEN"

        third = (await claimed(gql, need, "business"))["claim"]
        await expect(stream, "CLAIMED", need)
        delivery = (await log(gql, third["id"], "business")).ok()["logDelivery"]["delivery"]
        verified = await gql(
            VERIFY,
            {"input": {"id": delivery["id"], "version": delivery["version"]}},
            as_="director",
        )
        verified.ok()
        fulfilled = await expect(stream, "FULFILLED", need)
        assert fulfilled["need"]["status"] == "FULFILLED"

        other = await a_need(gql, child, category="EDUCATION")
        await expect(stream, "OPENED", other)
        await claimed(gql, other, "ngo")
        await expect(stream, "CLAIMED", other)
        version = await gql(
            "query($id: ID!) { need(id: $id) { version } }", {"id": other}, as_="officer"
        )
        cancelled = await gql(
            CANCEL,
            {
                "input": {
                    "id": other,
                    "version": version.ok()["need"]["version"],
                    "reason": "the family moved",
                }
            },
            as_="officer",
        )
        cancelled.ok()
        # Cancelling revokes the claim that held it, in the same transaction.
        await expect(stream, "REVOKED", other)
        assert (await expect(stream, "CANCELLED", other))["need"]["status"] == "CANCELLED"
        assert await stream.quiet()


async def test_a_rolled_back_change_announces_nothing(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    child = await a_child(gql)
    need = await a_need(gql, child)
    async with subscribed(hub, await tokens.member("officer")) as stream:
        await subscribers(app, 1)
        # A second claim on a claimed need loses; the claim that wins announces itself once.
        await claimed(gql, need, "ngo")
        await expect(stream, "CLAIMED", need)
        lost = await gql(
            'mutation($i: ClaimNeedInput!) { claimNeed(input: $i, idempotencyKey: "k-lost")'
            " { __typename } }",
            {"i": {"needId": need}},
            as_="business",
        )
        assert lost.ok()["claimNeed"]["__typename"] == "AlreadyClaimed"
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {
                    "channel": CHANNEL,
                    "payload": NeedEvent(
                        uuid_of(need),
                        NeedEventKind.RELEASED,
                        "360721101201",
                        NeedCategory.MATERIAL,
                        datetime.now(UTC),
                    ).payload(),
                },
            )
            await transaction.rollback()
        assert await stream.quiet()


async def test_needs_out_of_reach_never_arrive_and_categories_filter(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    ours = await a_child(gql)
    theirs = await a_child(gql, "李小花", village=FOREIGN_VILLAGE, as_="foreign_officer")
    everything = subscribed(hub, await tokens.member("ngo"))
    education = subscribed(
        hub,
        await tokens.member("ngo_worker"),
        variables={"jurisdiction": COUNTY, "categories": ["EDUCATION", "MEDICAL"]},
    )
    async with everything as all_stream, education as education_stream:
        await subscribers(app, 2)
        foreign = await a_need(gql, theirs, as_="foreign_officer")
        material = await a_need(gql, ours, category="MATERIAL")
        schooling = await a_need(gql, ours, category="EDUCATION")
        # The foreign county's need came first but never arrives; the filter lets only
        # education through.
        await expect(all_stream, "OPENED", material)
        await expect(all_stream, "OPENED", schooling)
        event = await expect(education_stream, "OPENED", schooling)
        assert event["need"]["category"] == "EDUCATION"
        assert await all_stream.quiet() and await education_stream.quiet()
        assert foreign not in (material, schooling)

    # Asking for a jurisdiction outside one's reach is refused outright.
    async with subscribed(
        hub, await tokens.member("ngo"), variables={"jurisdiction": "360732"}
    ) as stream:
        assert await stream.ended_with() == ["FORBIDDEN"]


async def test_the_payload_is_the_need_as_the_subscriber_may_see_it(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    child = await a_child(gql)
    officer = subscribed(hub, await tokens.member("officer"))
    business = subscribed(hub, await tokens.member("business"))
    async with officer as officer_stream, business as business_stream:
        await subscribers(app, 2)
        need = await a_need(gql, child)
        seen_by_officer = await expect(officer_stream, "OPENED", need)
        seen_by_business = await expect(business_stream, "OPENED", need)
    # Case detail (the description, the village) for the official; the county for a
    # business without a claim.
    assert seen_by_officer["need"]["description"] == "冬季棉衣两件"
    assert seen_by_officer["need"]["region"]["code"] == "360721101201"
    assert seen_by_business["need"]["description"] is None
    assert seen_by_business["need"]["region"]["code"] == COUNTY


async def test_an_event_shows_the_text_of_a_need_only_to_its_holder(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    """A business holding a child's winter clothes hears of the child's other needs as anyone in
    the area does: without their text (hub.domain.disclosure), as ``need`` would show them."""
    child = await a_child(gql)
    clothes = await a_need(gql, child)
    await claimed(gql, clothes, "business")
    async with subscribed(hub, await tokens.member("business")) as stream:
        await subscribers(app, 1)
        mood = await a_need(gql, child, category="PSYCHOLOGICAL")
        other = await expect(stream, "OPENED", mood)
        material = await a_need(gql, child)
        theirs = await expect(stream, "OPENED", material)
        await claimed(gql, material, "business")
        held = await expect(stream, "CLAIMED", material)
    assert other["need"]["description"] is None
    assert theirs["need"]["description"] is None
    assert held["need"]["description"] == "冬季棉衣两件"


async def test_an_update_reaches_followers_of_the_county_only(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    child = await a_child(gql)
    need = await a_need(gql, child, category="MATERIAL", urgency="MEDIUM")
    county = subscribed(hub, await tokens.member("ngo"), variables={"jurisdiction": COUNTY})
    elsewhere = subscribed(hub, await tokens.member("foreign_ngo"))
    material = subscribed(
        hub, await tokens.member("ngo_worker"), variables={"categories": ["MATERIAL"]}
    )
    async with county as stream, elsewhere as foreign, material as material_stream:
        await subscribers(app, 3)
        critical = await gql(
            UPDATE, {"input": {"id": need, "version": 1, "urgency": "CRITICAL"}}, as_="officer"
        )
        critical.ok()
        event = await expect(stream, "UPDATED", need)
        assert (event["need"]["urgency"], event["need"]["version"]) == ("CRITICAL", 2)
        await expect(material_stream, "UPDATED", need)

        # Refused changes announce nothing: a stale version, input that is not valid.
        stale = await gql(
            UPDATE, {"input": {"id": need, "version": 1, "urgency": "LOW"}}, as_="officer"
        )
        assert stale.codes == ["STALE_VERSION"]
        blank = await gql(
            UPDATE, {"input": {"id": need, "version": 2, "description": " "}}, as_="officer"
        )
        assert blank.codes == ["BAD_USER_INPUT"]
        assert await stream.quiet()

        # A need moved to another category is news to those who followed its old one.
        recategorised = await gql(
            UPDATE, {"input": {"id": need, "version": 2, "category": "EDUCATION"}}, as_="officer"
        )
        recategorised.ok()
        assert (await expect(material_stream, "UPDATED", need))["need"]["category"] == "EDUCATION"
        await expect(stream, "UPDATED", need)
        # The other county hears of none of it.
        assert await foreign.quiet() and await stream.quiet() and await material_stream.quiet()


async def moves(stream: EventStream, count: int) -> dict[str, str]:
    """The next ``count`` events, all moves: need id -> the region code the subscriber sees."""
    seen = {}
    for _ in range(count):
        event = await stream.next_event()
        assert event["kind"] == "MOVED", event
        seen[event["need"]["id"]] = event["need"]["region"]["code"]
    return seen


async def test_a_merge_and_its_undoing_announce_the_needs_that_moved(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    keep = await a_child(gql, "王小明")
    duplicate = await a_child(gql, "王晓明", village=OTHER_VILLAGE_SAME_TOWNSHIP)
    moving = {
        await a_need(gql, duplicate, category="MATERIAL"),
        await a_need(gql, duplicate, category="EDUCATION"),
    }
    staying = await a_need(gql, keep)
    old_village = subscribed(
        hub,
        await tokens.member("director"),
        variables={"jurisdiction": OTHER_VILLAGE_SAME_TOWNSHIP},
    )
    new_village = subscribed(
        hub, await tokens.member("officer"), variables={"jurisdiction": VILLAGE}
    )
    async with old_village as old, new_village as new:
        await subscribers(app, 2)
        merged = await gql(
            MERGE,
            {"input": {"keepId": keep, "mergeId": duplicate, "reason": "同一儿童，村名登记有误"}},
            as_="officer",
        )
        merge_id = merged.ok()["mergeChildren"]["merge"]["id"]
        # Both sides hear of each need that moved, as it is now: in the kept child's village.
        assert await moves(old, 2) == dict.fromkeys(moving, VILLAGE)
        assert await moves(new, 2) == dict.fromkeys(moving, VILLAGE)
        assert staying not in moving
        assert await old.quiet() and await new.quiet()

        undone = await gql(
            UNMERGE, {"input": {"mergeId": merge_id, "reason": "核实后确为两名儿童"}}, as_="officer"
        )
        undone.ok()
        assert await moves(old, 2) == dict.fromkeys(moving, OTHER_VILLAGE_SAME_TOWNSHIP)
        assert await moves(new, 2) == dict.fromkeys(moving, OTHER_VILLAGE_SAME_TOWNSHIP)
        # Undoing it again is refused, and announces nothing.
        twice = await gql(
            UNMERGE, {"input": {"mergeId": merge_id, "reason": "再次"}}, as_="officer"
        )
        assert twice.codes == ["CONFLICT"]
        assert await old.quiet() and await new.quiet()


async def test_a_need_moved_out_of_reach_does_not_say_where_it_went(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine, world: World
) -> None:
    # The officer may now act in both counties, so can merge a child across them.
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO role_grants (member_id, provider_id, role, jurisdiction)"
                " SELECT member_id, provider_id, role, :other FROM role_grants"
                " WHERE member_id = :member"
            ),
            {"other": OTHER_COUNTY, "member": world.members["officer"]},
        )
    keep = await a_child(gql, "王小明")
    duplicate = await a_child(gql, "王晓明", village=FOREIGN_VILLAGE, as_="foreign_officer")
    need = await a_need(gql, duplicate, as_="foreign_officer")
    here = subscribed(hub, await tokens.member("ngo"))
    there = subscribed(hub, await tokens.member("foreign_ngo"))
    async with here as ours, there as theirs:
        await subscribers(app, 2)
        merged = await gql(
            MERGE,
            {"input": {"keepId": keep, "mergeId": duplicate, "reason": "同一儿童，随父母迁居"}},
            as_="officer",
        )
        merge_id = merged.ok()["mergeChildren"]["merge"]["id"]
        # Its new county hears of it; its old one, which may no longer see it, hears nothing.
        assert await moves(ours, 1) == {need: COUNTY}
        assert await theirs.quiet()

        undone = await gql(
            UNMERGE, {"input": {"mergeId": merge_id, "reason": "核实后确为两名儿童"}}, as_="officer"
        )
        undone.ok()
        assert await moves(theirs, 1) == {need: OTHER_COUNTY}
        assert await ours.quiet()


async def test_a_merge_announces_every_moved_need_in_one_statement(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    async def merge_statements(needs: int) -> list[str]:
        keep = await a_child(gql, "王小明")
        duplicate = await a_child(gql, "王晓明")
        for _ in range(needs):
            await a_need(gql, duplicate)
        with count_statements(engine) as statements:
            merged = await gql(
                MERGE,
                {"input": {"keepId": keep, "mergeId": duplicate, "reason": "同一儿童"}},
                as_="officer",
            )
        merged.ok()
        return statements

    one, many = await merge_statements(1), await merge_statements(5)
    assert len(many) == len(one)
    assert [s for s in many if "pg_notify" in s] == [s for s in one if "pg_notify" in s]
    assert len([s for s in many if "pg_notify" in s]) == 1


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic b2ZmaWNlcjpzZWNyZXQ="},
        {"authorization": 42},
    ],
)
async def test_a_connection_without_a_valid_token_is_refused(
    app: Starlette, hub: str, world: World, payload: dict[str, object] | None
) -> None:
    with pytest.raises(Rejected) as refused:
        async with subscribed(hub, None, init_payload=payload):
            pass
    assert refused.value.code == 4403


async def test_an_expired_token_is_refused_and_a_lowercase_key_accepted(
    app: Starlette, hub: str, tokens: Tokens, settings: Settings
) -> None:
    stale = await tokens.member("ngo", now=int(time.time()) - 3600, lifetime=600)
    with pytest.raises(Rejected) as refused:
        async with subscribed(hub, stale):
            pass
    assert refused.value.code == 4403
    fresh = await tokens.member("ngo")
    async with subscribed(hub, None, init_payload={"authorization": f"Bearer {fresh}"}):
        await subscribers(app, 1)


async def test_the_stream_ends_when_the_token_expires(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    child = await a_child(gql)
    short = await tokens.member("ngo", lifetime=3)
    async with subscribed(hub, short) as stream:
        await subscribers(app, 1)
        need = await a_need(gql, child)
        await expect(stream, "OPENED", need)
        assert await stream.ended_with(wait=10) == ["UNAUTHENTICATED"]
    await subscribers(app, 0)


async def revoke_roles(engine: AsyncEngine, world: World, login: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE role_grants SET revoked_at = now() WHERE member_id = :member"),
            {"member": world.members[login]},
        )


async def test_a_revoked_role_ends_the_stream_at_the_next_event(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine, world: World
) -> None:
    child = await a_child(gql)
    slow_recheck = dataclasses.replace(app.state.settings, events_recheck_seconds=3600.0)
    app.state.settings = slow_recheck
    async with subscribed(hub, await tokens.member("ngo_worker")) as stream:
        await subscribers(app, 1)
        need = await a_need(gql, child)
        await expect(stream, "OPENED", need)
        await revoke_roles(engine, world, "ngo_worker")
        await claimed(gql, need, "ngo")
        assert await stream.ended_with() in (["FORBIDDEN"], ["UNAUTHENTICATED"])
    await subscribers(app, 0)


async def test_a_revoked_role_ends_an_idle_stream(
    app: Starlette, hub: str, tokens: Tokens, engine: AsyncEngine, world: World
) -> None:
    async with subscribed(hub, await tokens.member("ngo_worker")) as stream:
        await subscribers(app, 1)
        await revoke_roles(engine, world, "ngo_worker")
        # No event comes; the periodic re-check (every second here) notices.
        assert await stream.ended_with(wait=10) in (["FORBIDDEN"], ["UNAUTHENTICATED"])


async def test_a_slow_subscriber_is_dropped_not_buffered(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql))
    async with (
        subscribed(hub, await tokens.member("ngo")) as stream,
        subscribed(hub, await tokens.member("officer")) as keeping_up,
    ):
        await subscribers(app, 2)
        # A burst far larger than the queue, committed at once: each event costs the
        # subscriber a database read, so the queue overflows while it reads the first.
        async with engine.begin() as connection:
            for n in range(50 * QUEUE_SIZE):
                # Distinct payloads: PostgreSQL folds identical ones within a transaction.
                event = NeedEvent(
                    uuid_of(need),
                    NeedEventKind.OPENED,
                    "360721101201",
                    NeedCategory.MATERIAL,
                    datetime.now(UTC) + timedelta(microseconds=n),
                )
                await connection.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": event.payload()},
                )
        assert await stream.ended_with() == ["SLOW_SUBSCRIBER"]
        assert await keeping_up.ended_with() == ["SLOW_SUBSCRIBER"]
    await subscribers(app, 0)
    # The hub is fine afterwards: a new subscriber hears the next event.
    async with subscribed(hub, await tokens.member("ngo")) as stream:
        await subscribers(app, 1)
        other = await a_need(gql, await a_child(gql, "王小红"))
        await expect(stream, "OPENED", other)


async def test_a_subscription_never_holds_more_than_its_queue() -> None:
    broker = EventBroker(queue_size=QUEUE_SIZE)
    broker.resume()
    event = NeedEvent(
        uuid.uuid4(),
        NeedEventKind.OPENED,
        "360721101201",
        NeedCategory.MATERIAL,
        datetime.now(UTC),
    )
    with broker.subscribe() as reading, broker.subscribe() as stalled:
        for _ in range(10_000):
            broker.publish(event)
            assert stalled.backlog <= QUEUE_SIZE
            assert await reading.next(0) == event
        # The stalled one was ended and its backlog let go; it says why when it reads.
        assert stalled.backlog == 0
        with pytest.raises(SlowSubscriber):
            await stalled.next(0)
        assert reading.backlog <= QUEUE_SIZE
    assert broker.subscribers == 0


async def test_losing_the_event_feed_ends_every_stream(
    app: Starlette, hub: str, tokens: Tokens, engine: AsyncEngine, gql: GraphQLClient
) -> None:
    async with subscribed(hub, await tokens.member("ngo")) as stream:
        await subscribers(app, 1)
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'hub-events' AND datname = current_database()"
                )
            )
        assert await stream.ended_with() == ["EVENTS_INTERRUPTED"]
    # It reconnects by itself, and new subscribers hear events again.
    await asyncio.wait_for(app.state.event_listener.listening.wait(), timeout=10)
    async with subscribed(hub, await tokens.member("ngo")) as stream:
        await subscribers(app, 1)
        need = await a_need(gql, await a_child(gql))
        await expect(stream, "OPENED", need)


async def test_the_listener_reconnects_promptly_after_every_loss(
    app: Starlette, hub: str, engine: AsyncEngine
) -> None:
    """The pause before reconnecting grows only while reconnecting fails: a connection that
    worked starts it afresh, so the fifth loss costs no more than the first."""
    listener = app.state.event_listener
    for _ in range(5):
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'hub-events' AND datname = current_database()"
                )
            )
        await until(lambda: not listener.listening.is_set(), wait=5)
        started = time.monotonic()
        await asyncio.wait_for(listener.listening.wait(), timeout=10)
        assert time.monotonic() - started < 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def other_hub(
    database_url: str, settings: Settings, tmp_path: Path, world: World
) -> AsyncIterator[str]:
    """A second hub process (``hub serve``) on the same database, trusting the same keys."""
    port = free_port()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_DATA_DIR": str(tmp_path / "other-hub"),
        "HUB_ENV": "dev",
        "HUB_PORT": str(port),
        "HUB_ISSUER": settings.public_url,
        "HUB_ID_HASH_KEY": str(TEST_SETTINGS["id_hash_key"]),
        "HUB_KEY_ENCRYPTION_KEY": str(TEST_SETTINGS["key_encryption_key"]),
        "HUB_SWEEP_INTERVAL_SECONDS": "0",
        "HUB_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from hub.cli import main; main()",
        "serve",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    address = f"127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=f"http://{address}") as client:
            deadline = time.monotonic() + 60
            while True:
                assert process.returncode is None, "the second hub exited"
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the second hub did not start"
                await asyncio.sleep(0.2)
        yield address
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.mark.slow
async def test_a_claim_on_one_process_reaches_a_subscriber_on_another(
    app: Starlette, hub: str, other_hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    child = await a_child(gql)
    need = await a_need(gql, child)
    ngo = await tokens.member("ngo")
    async with subscribed(hub, await tokens.member("officer")) as here:
        await subscribers(app, 1)
        async with httpx.AsyncClient(base_url=f"http://{other_hub}") as there:
            response = await there.post(
                "/graphql",
                json={
                    "query": "mutation($i: ClaimNeedInput!) { claimNeed(input: $i,"
                    ' idempotencyKey: "across") { __typename } }',
                    "variables": {"i": {"needId": need}},
                },
                headers={"Authorization": f"Bearer {ngo}"},
            )
        assert response.json()["data"]["claimNeed"]["__typename"] == "ClaimNeedSuccess"
        claimed_there = await expect(here, "CLAIMED", need)
        assert claimed_there["need"]["status"] == "CLAIMED"

    # And the other way: a subscriber on the second process hears a need opened here.
    async with subscribed(other_hub, ngo) as there_stream:
        # The other process's subscription is registered once it answers a ping after the
        # subscribe message (messages on one connection are handled in order).
        await there_stream.connection.send('{"type": "ping"}')
        assert (await there_stream.receive()).type == "pong"
        await asyncio.sleep(0.5)
        opened = await a_need(gql, child, category="EDUCATION")
        await expect(there_stream, "OPENED", opened)


@pytest.mark.slow
async def test_an_update_on_one_process_reaches_a_subscriber_on_another(
    app: Starlette, hub: str, other_hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    need = await a_need(gql, await a_child(gql), urgency="LOW")
    county = {"jurisdiction": COUNTY}
    async with subscribed(hub, await tokens.member("ngo"), variables=county) as here:
        await subscribers(app, 1)
        async with httpx.AsyncClient(base_url=f"http://{other_hub}") as there:
            response = await there.post(
                "/graphql",
                json={
                    "query": UPDATE,
                    "variables": {"input": {"id": need, "version": 1, "urgency": "CRITICAL"}},
                },
                headers={"Authorization": f"Bearer {await tokens.member('officer')}"},
            )
        assert response.json()["data"]["updateNeed"]["need"]["version"] == 2
        updated = await expect(here, "UPDATED", need)
        assert updated["need"]["urgency"] == "CRITICAL"
