"""Change-feed checkpoints start a ``changedSince`` page in one lookup, and never cost it a
change: a need changed after the time is delivered even by a transaction that began before
the checkpoint."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from asgi_lifespan import LifespanManager
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.db.engine import session_factory
from hub.db.models import ChangeCheckpoint
from hub.domain.change_checkpoints import record_checkpoint
from hub.settings import Settings
from tests.graphql import GraphQLClient
from tests.registry_data import add_child, add_need, feed_settled
from tests.test_change_feed import change, follow
from tests.world import World


async def checkpoints(engine: AsyncEngine) -> list[tuple[datetime, int]]:
    async with session_factory(engine)() as session:
        rows = await session.execute(
            select(ChangeCheckpoint.at, ChangeCheckpoint.xid).order_by(ChangeCheckpoint.at)
        )
        return [(at, xid) for at, xid in rows]


async def test_a_transaction_begun_before_the_checkpoint_still_reaches_the_feed(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    early = await add_need(engine, child)
    late = await add_need(engine, child)
    await feed_settled(engine)

    # A second connection's transaction takes its id, and stays open across the checkpoint.
    async with engine.connect() as a:
        a_xid = (await a.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one()
        async with session_factory(engine)() as session:
            assert await record_checkpoint(session, 60)
        [(since, bound)] = await checkpoints(engine)
        # The bound stays at or below every transaction still running, A's included.
        assert bound <= a_xid
        # Only after `since` does A write the need, and then it commits.
        await a.execute(
            text(
                "UPDATE needs SET version = version + 1, updated_at = clock_timestamp() "
                "WHERE id = :id"
            ),
            {"id": late.id},
        )
        await a.commit()
    await feed_settled(engine)

    # A new reader from `since` gets A's change, though A's id is older than the checkpoint;
    # with the checkpoint's current transaction id as the bound it was missed.
    delivered, _ = await follow(gql, None, since=since.isoformat())
    assert delivered == [change(late, 2)]
    assert change(early, 1) not in delivered


async def test_the_first_page_starts_at_the_latest_checkpoint_at_or_before_the_time(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    first = await add_need(engine, child)
    second = await add_need(engine, child)
    third = await add_need(engine, child)
    await feed_settled(engine)
    since = datetime.now(UTC) - timedelta(hours=1)
    # Every need changed in the last hour, so without checkpoints the page holds all three.
    assert (await follow(gql, None, since=since.isoformat()))[0] == [
        change(first, 1),
        change(second, 1),
        change(third, 1),
    ]

    # Checkpoints written by hand, to see which one the page starts from: the latest at or
    # before `since` (the second's transaction), not an earlier one nor one after it.
    async with engine.begin() as connection:
        xids = (
            await connection.execute(
                text("SELECT change_xid FROM needs WHERE id = ANY(:ids) ORDER BY change_xid"),
                {"ids": [first.id, second.id, third.id]},
            )
        ).scalars()
        _, second_xid, third_xid = list(xids)
        await connection.execute(
            text("INSERT INTO change_checkpoints (at, xid) VALUES (:a, 0), (:b, :x), (:c, :y)"),
            {
                "a": since - timedelta(minutes=2),
                "b": since - timedelta(minutes=1),
                "x": second_xid,
                "c": since + timedelta(minutes=1),
                "y": third_xid,
            },
        )
    assert (await follow(gql, None, since=since.isoformat()))[0] == [
        change(second, 1),
        change(third, 1),
    ]
    # Before the first checkpoint, the page falls back to the needs changed in its window.
    earlier = (since - timedelta(minutes=3)).isoformat()
    assert len((await follow(gql, None, since=earlier))[0]) == 3


async def test_processes_record_one_checkpoint_per_interval_and_thin_old_ones(
    engine: AsyncEngine,
) -> None:
    now = datetime.now(UTC)
    two_days_ago = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO change_checkpoints (at, xid) VALUES (:a, 1), (:b, 2), (:c, 3)"),
            {
                "a": two_days_ago + timedelta(minutes=5),
                "b": two_days_ago + timedelta(minutes=6),
                "c": two_days_ago + timedelta(hours=1, minutes=7),
            },
        )
    sessions = session_factory(engine)
    async with sessions() as session:
        assert await record_checkpoint(session, 60)
    # A second process within the interval records none.
    async with sessions() as session:
        assert not await record_checkpoint(session, 60)

    kept = await checkpoints(engine)
    # The first of each old hour, and the new one.
    assert [xid for _, xid in kept[:2]] == [1, 3]
    assert len(kept) == 3
    assert now - timedelta(minutes=1) < kept[2][0] < datetime.now(UTC)


async def test_each_process_records_checkpoints_in_the_background(
    engine: AsyncEngine, settings: Settings
) -> None:
    every_tenth_second = dataclasses.replace(settings, change_checkpoint_interval_seconds=0.1)
    async with LifespanManager(create_app(every_tenth_second, engine=engine)):
        for _ in range(100):
            if await checkpoints(engine):
                break
            await asyncio.sleep(0.05)
    assert await checkpoints(engine)
