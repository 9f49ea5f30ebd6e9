"""needEvents resumed from a cursor: what changed while the subscriber was away is replayed,
then the stream goes on live, and no change falls between the two, whatever order
transactions take their ids and commit in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.settings import Settings
from tests.auth import Tokens
from tests.conftest import TEST_SETTINGS
from tests.coordination import a_child, a_need, uuid_of
from tests.events_client import EventStream, listening, subscribed, until
from tests.graphql import GraphQLClient

UPDATE = """
mutation($input: UpdateNeedInput!) { updateNeed(input: $input) { need { id version } } }
"""
FEED_END = "{ needs(orderBy: CHANGED, first: 100) { pageInfo { endCursor } } }"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="dev", data_dir=tmp_path, **TEST_SETTINGS)  # type: ignore[arg-type]


@pytest.fixture
async def hub(app: Starlette) -> AsyncIterator[str]:
    async with listening(app) as address:
        yield address


async def registered(app: Starlette, count: int) -> None:
    await until(lambda: app.state.event_broker.subscribers == count)


async def events(stream: EventStream, count: int) -> list[tuple[str, str]]:
    """The next ``count`` events as (kind, need id)."""
    found = []
    for _ in range(count):
        event = await stream.next_event()
        found.append((event["kind"], event["need"]["id"]))
    return found


async def update(gql: GraphQLClient, need: str, version: int, urgency: str) -> None:
    variables = {"input": {"id": need, "version": version, "urgency": urgency}}
    (await gql(UPDATE, variables, as_="officer")).ok()


async def test_a_resumed_stream_replays_what_changed_while_away_then_goes_on_live(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens
) -> None:
    child = await a_child(gql)
    token = await tokens.member("ngo")
    async with subscribed(hub, token) as stream:
        await registered(app, 1)
        first = await a_need(gql, child)
        opened = await stream.next_event()
        assert (opened["kind"], opened["need"]["id"]) == ("OPENED", first)
    await registered(app, 0)
    # Away: one need changes, another is opened.
    await update(gql, first, 1, "CRITICAL")
    second = await a_need(gql, child, category="EDUCATION")
    async with subscribed(hub, token, variables={"after": opened["cursor"]}) as stream:
        replayed = [await stream.next_event() for _ in range(2)]
        assert [(e["kind"], e["need"]["id"]) for e in replayed] == [
            ("CHANGED", first),
            ("CHANGED", second),
        ]
        assert replayed[0]["need"]["urgency"] == "CRITICAL"
        third = await a_need(gql, child, category="MEDICAL")
        assert await events(stream, 1) == [("OPENED", third)]
        assert await stream.quiet()


async def test_a_cursor_that_is_not_one_is_refused(
    app: Starlette, hub: str, tokens: Tokens
) -> None:
    async with subscribed(
        hub, await tokens.member("ngo"), variables={"after": "bm90LWEtY3Vyc29y"}
    ) as stream:
        assert await stream.ended_with() == ["BAD_USER_INPUT"]


async def test_a_live_event_s_cursor_covers_an_older_transaction_that_commits_after_it(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    """Transaction ids are not handed out in commit order: an event's cursor must not pass a
    change whose transaction began earlier but commits later."""
    child = await a_child(gql)
    older_need = await a_need(gql, child)
    newer_need = await a_need(gql, child, category="EDUCATION")
    token = await tokens.member("ngo")
    async with engine.connect() as older:
        transaction = await older.begin()
        # This transaction takes its id first...
        await older.execute(
            text("UPDATE needs SET description = '棉衣三件' WHERE id = :id"),
            {"id": uuid_of(older_need)},
        )
        async with subscribed(hub, token) as stream:
            await registered(app, 1)
            # ... and a later one commits first; the subscriber hears it, and leaves.
            await update(gql, newer_need, 1, "CRITICAL")
            heard = await stream.next_event()
            assert (heard["kind"], heard["need"]["id"]) == ("UPDATED", newer_need)
        await transaction.commit()
    async with subscribed(hub, token, variables={"after": heard["cursor"]}) as stream:
        replayed = {(e["kind"], e["need"]["id"]) for e in [await stream.next_event()]}
        # The older change is there (the newer one may come again: at least once).
        while ("CHANGED", older_need) not in replayed:
            event = await stream.next_event()
            replayed.add((event["kind"], event["need"]["id"]))
        assert replayed <= {("CHANGED", older_need), ("CHANGED", newer_need)}


async def test_the_replay_waits_for_a_transaction_older_than_the_change_it_would_miss(
    app: Starlette, hub: str, gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    """A change committed before the stream registered, but behind a transaction still
    running, is not in the feed yet: the replay reads again once that transaction ends."""
    child = await a_child(gql)
    need = await a_need(gql, child)
    cursor = (await gql(FEED_END, as_="officer")).ok()["needs"]["pageInfo"]["endCursor"]
    async with engine.connect() as older:
        transaction = await older.begin()
        await older.execute(text("SELECT pg_current_xact_id()"))  # it now holds an id
        await update(gql, need, 1, "CRITICAL")  # committed, announced to nobody
        async with subscribed(hub, await tokens.member("ngo"), variables={"after": cursor}) as s:
            await registered(app, 1)
            assert await s.quiet(0.5)  # the feed ends before the older transaction
            await transaction.commit()
            event = await s.next_event(wait=5)
            assert (event["kind"], event["need"]["id"], event["need"]["urgency"]) == (
                "CHANGED",
                need,
                "CRITICAL",
            )
