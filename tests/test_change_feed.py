"""The change feed, ``needs(orderBy: CHANGED)``, is exact: a reader who pages to the end and
later goes on from its last cursor gets every change committed since, whatever the clocks said
and in whatever order the transactions committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.auth.principals import member_principal
from hub.db.engine import create_engine, session_factory
from hub.domain.needs import NeedFilter, NeedOrder, NeedView, list_needs
from hub.domain.pagination import PageRequest
from tests.graphql import GraphQLClient
from tests.registry_data import T0, add_child, add_need, feed_settled, gid, set_need
from tests.world import FOREIGN_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP, VILLAGE, World

FEED = """
query($after: String, $since: DateTime) {
  needs(orderBy: CHANGED, first: 2, after: $after, filter: {changedSince: $since}) {
    edges { node { id version } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

UPDATE_NEED = """
mutation($input: UpdateNeedInput!) { updateNeed(input: $input) { need { id version } } }
"""

CLAIM_NEED = """
mutation($need: ID!) { claimNeed(input: {needId: $need}, idempotencyKey: "k1") { __typename } }
"""


async def follow(
    gql: GraphQLClient, after: str | None, as_: str = "officer", since: str | None = None
) -> tuple[list[tuple[str, int]], str | None]:
    """Page the feed from ``after`` to its end, as an integration does: the changes delivered
    (each need with the version it was delivered at) and the cursor to go on from later."""
    delivered: list[tuple[str, int]] = []
    for _ in range(50):
        result = await gql(FEED, {"after": after, "since": since}, as_=as_)
        page = result.ok()["needs"]
        delivered.extend((edge["node"]["id"], edge["node"]["version"]) for edge in page["edges"])
        after = page["pageInfo"]["endCursor"] or after
        if not page["pageInfo"]["hasNextPage"]:
            return delivered, after
    raise AssertionError("the feed never ended")


def change(need: NeedView, version: int) -> tuple[str, int]:
    return gid("Need", need.id), version


async def test_a_change_that_commits_late_is_not_missed(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    x = await add_need(engine, child)
    y = await add_need(engine, child)
    await feed_settled(engine)
    delivered, cursor = await follow(gql, None)
    assert delivered == [change(x, 1), change(y, 1)]

    # Transaction A changes X and stays open, as a long transaction of the hub would: the
    # ledger's and merges' bulk updates stamp updated_at with now(), their transaction's start.
    # (A writes no audit event: the audit chain's lock would hold B back until A ended.)
    async with engine.connect() as a:
        await a.execute(
            text(
                "UPDATE needs SET urgency = 'high', version = version + 1, updated_at = now() "
                "WHERE id = :id"
            ),
            {"id": x.id},
        )
        # Transaction B changes Y through the API and commits, while A is still open.
        result = await gql(
            UPDATE_NEED,
            {"input": {"id": gid("Need", y.id), "version": 1, "urgency": "CRITICAL"}},
            as_="officer",
        )
        assert result.ok()["updateNeed"]["need"]["version"] == 2
        # The reader pages to the end meanwhile.
        while_open, cursor = await follow(gql, cursor)
        await a.commit()
    await feed_settled(engine)
    # ... and later goes on from its last cursor.
    after_commit, cursor = await follow(gql, cursor)

    # With the feed ordered by updated_at (before migration 0006) this failed: Y, stamped
    # later than X, came out while A was open, the reader's cursor moved past X's time, and X's
    # change, committed afterwards with its earlier time, was never delivered.
    assert change(x, 2) in while_open + after_commit, "X's change was missed"
    # Y waited: nothing behind a transaction that may still commit goes out ahead of it.
    assert while_open == []
    assert after_commit == [change(x, 2), change(y, 2)]
    # Nothing more: every change was delivered exactly once.
    assert await follow(gql, cursor) == ([], cursor)


async def test_a_change_stamped_by_a_lagging_clock_is_not_missed(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    x = await add_need(engine, child)
    y = await add_need(engine, child)
    await feed_settled(engine)
    _, cursor = await follow(gql, None)

    # A hub process whose clock is two years behind changes X.
    await set_need(engine, x, updated_at=T0)
    await feed_settled(engine)
    # With the feed ordered by updated_at this failed: X's change sorted before the cursor.
    # Y was not changed again, so it is not delivered again.
    assert (await follow(gql, cursor))[0] == [change(x, 1)]
    assert (await follow(gql, None))[0] == [change(y, 1), change(x, 1)]


async def test_a_need_changed_again_is_delivered_again_at_its_new_place(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    x, y, z = [await add_need(engine, child) for _ in range(3)]
    await feed_settled(engine)
    delivered, cursor = await follow(gql, None)
    assert delivered == [change(x, 1), change(y, 1), change(z, 1)]

    for version in (1, 2):
        result = await gql(
            UPDATE_NEED,
            {"input": {"id": gid("Need", x.id), "version": version, "description": "书包"}},
            as_="officer",
        )
        assert result.ok()["updateNeed"]["need"]["version"] == version + 1
    await feed_settled(engine)
    # Once, at its latest version: the feed says what changed since, not every step.
    assert (await follow(gql, cursor))[0] == [change(x, 3)]
    assert (await follow(gql, None))[0] == [change(y, 1), change(z, 1), change(x, 3)]


async def test_changed_since_starts_a_new_reader_and_its_cursor_goes_on_from_there(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await add_child(engine)
    old = await add_need(engine, child)
    new = await add_need(engine, child)
    await set_need(engine, old, updated_at=T0)
    await feed_settled(engine)
    since = T0.replace(year=T0.year + 1).isoformat()
    delivered, cursor = await follow(gql, None, since=since)
    assert delivered == [change(new, 1)]

    # Both change again, one of them by a clock that lags behind `since`: the reader goes on
    # from its cursor alone (the time was only where to start) and gets both.
    await set_need(engine, old, updated_at=T0)
    result = await gql(
        UPDATE_NEED,
        {"input": {"id": gid("Need", new.id), "version": 1, "urgency": "LOW"}},
        as_="officer",
    )
    assert result.ok()["updateNeed"]["need"]["version"] == 2
    await feed_settled(engine)
    assert (await follow(gql, cursor))[0] == [change(old, 1), change(new, 2)]


async def test_the_feed_holds_only_what_the_reader_may_read(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    here = await add_need(engine, await add_child(engine, region=VILLAGE))
    near = await add_need(engine, await add_child(engine, region=OTHER_VILLAGE_SAME_TOWNSHIP))
    theirs = await add_need(engine, await add_child(engine, region=FOREIGN_VILLAGE))
    await feed_settled(engine)
    expected: dict[str, Any] = {
        "officer": [change(here, 1), change(near, 1)],
        "ngo": [change(here, 1), change(near, 1)],
        "foreign_officer": [change(theirs, 1)],
        "admin": [],  # a platform admin does not read the register
    }
    for login, changes in expected.items():
        assert (await follow(gql, None, as_=login))[0] == changes, login


async def test_every_way_a_need_changes_reaches_the_feed(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """The database stamps the change, so code paths that never name the column count too:
    here the ledger's statement that marks a need claimed."""
    child = await add_child(engine)
    x, y = await add_need(engine, child), await add_need(engine, child)
    await feed_settled(engine)
    _, cursor = await follow(gql, None)

    result = await gql(CLAIM_NEED, {"need": gid("Need", x.id)}, as_="ngo")
    assert result.ok()["claimNeed"]["__typename"] == "ClaimNeedSuccess"
    await feed_settled(engine)
    assert (await follow(gql, cursor))[0] == [change(x, 2)]
    assert (await follow(gql, None))[0] == [change(y, 1), change(x, 2)]


async def test_the_first_page_since_a_moment_is_planned_for_its_own_values(
    world: World, engine: AsyncEngine, database_url: str
) -> None:
    # A generic plan, made once for any values, read the whole register for one province's
    # first page at 1,000,000 children; the plan for the values at hand reads 101 rows.
    child = await add_child(engine)
    await add_need(engine, child)
    await feed_settled(engine)
    since = T0.replace(year=T0.year + 1)
    where = NeedFilter(changed_since=since, order=NeedOrder.CHANGED)
    page = PageRequest(first=2, after=None)
    async with session_factory(engine)() as session:
        principal = await member_principal(session, "officer")
    assert principal is not None
    # A connection of its own, new: the prepared statements it lists are this test's alone.
    own = create_engine(database_url, pool_size=1)
    async with own.connect() as connection:
        for _ in range(12):  # PostgreSQL may turn to a generic plan after five executions
            # (What it finds depends on other tests' transactions open on the same server:
            # the feed stops below the oldest. How it was planned does not.)
            async with connection.begin():
                await list_needs(AsyncSession(bind=connection), principal, where, page)
        plans = (
            await connection.execute(
                text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement LIKE '%FROM change_checkpoints%'"
                    " AND statement NOT LIKE '%pg_prepared_statements%'"
                )
            )
        ).one()
    await own.dispose()
    assert plans.generic_plans == 0
    assert plans.custom_plans >= 12
