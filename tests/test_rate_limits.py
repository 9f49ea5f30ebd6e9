"""Rate limits counted in cost, per principal and shared by every hub process; the compiled path
pays like the normal one; request and statement timeouts; subscriptions per connection."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.applications import Starlette

from bench import scenarios
from hub.app import create_app
from hub.auth.maintenance import prune
from hub.db.engine import create_engine, session_factory
from hub.db.models import Need, RateLimit
from hub.domain import rate_limits
from hub.settings import Settings, SettingsError
from tests.auth import Tokens
from tests.conftest import TEST_SETTINGS
from tests.coordination import a_child
from tests.events_client import served, subscribed
from tests.graphql import GraphQLClient
from tests.world import COUNTY, World

ROOT = Path(__file__).resolve().parent.parent
PER_MINUTE = 800  # two pages of needs (cost 453 each) do not fit; one does
NEEDS_PAGE_COST = 453


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="dev",
        data_dir=tmp_path,
        max_cost=500,
        rate_limit_cost_per_minute=PER_MINUTE,
        max_subscriptions_per_connection=1,
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )


async def spent_rows(engine: AsyncEngine) -> list[tuple[str, float]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(RateLimit.key, func.extract("epoch", RateLimit.paid_off_at - func.now()))
        )
        return [(key, float(ahead)) for key, ahead in rows]


async def post(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, object]
) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_the_compiled_page_is_charged_and_refused_over_the_budget(
    http: httpx.AsyncClient, tokens: Tokens, world: World, engine: AsyncEngine
) -> None:
    token = await tokens.member("ngo")
    variables = {"county": COUNTY, "after": None}
    first = await post(http, token, scenarios.NEEDS_PAGE, variables)
    assert first.status_code == 200 and first.json()["data"]["needs"]["edges"] == []
    # The compiled path answered and charged the page's cost: a minute's budget of 800 is
    # paid off at 800 a minute, so 453 takes a little over 30 seconds.
    [(key, ahead)] = await spent_rows(engine)
    assert key == f"member:{world.members['ngo']}"
    assert ahead == pytest.approx(60 * NEEDS_PAGE_COST / PER_MINUTE, abs=2)

    second = await post(http, token, scenarios.NEEDS_PAGE, variables)
    assert second.status_code == 429
    [error] = second.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry_after = error["extensions"]["retryAfter"]
    assert int(second.headers["Retry-After"]) == retry_after
    # 2 x 453 exceeds the 800 of a minute by 106: paid off in about 8 s, at least 1.
    assert 1 <= retry_after <= math.ceil(60 * (2 * NEEDS_PAGE_COST - PER_MINUTE) / PER_MINUTE) + 1
    # The refusal spent nothing.
    [(_, ahead_after)] = await spent_rows(engine)
    assert ahead_after <= ahead


async def test_both_paths_charge_a_page_the_same_and_only_once(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    # The normal path's document (a comment makes it not the compiled one) costs the same.
    normal = await gql("# normal\n" + scenarios.NEEDS_PAGE, {"county": COUNTY}, as_="officer")
    assert normal.ok()["needs"]["edges"] == []
    # The compiled path charges, then leaves a bad cursor to the normal path, which reports it
    # without charging again (twice would not fit in the budget: it would be RATE_LIMITED).
    bad = await gql(scenarios.NEEDS_PAGE, {"county": COUNTY, "after": "not-a-cursor"}, as_="ngo")
    assert bad.codes == ["BAD_USER_INPUT"]
    spent = dict(await spent_rows(engine))
    page = 60 * NEEDS_PAGE_COST / PER_MINUTE
    assert spent[f"member:{world.members['officer']}"] == pytest.approx(page, abs=2)
    assert spent[f"member:{world.members['ngo']}"] == pytest.approx(page, abs=2)


async def test_a_refused_mutation_changes_nothing_and_other_principals_pass(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    child = await a_child(gql, "限额")
    # Two minutes in debt, not one: a budget spent exactly to its minute refills by the charge of
    # one request within a millisecond or two, and a slow machine takes longer than that between
    # this statement and the request, which then fits.
    async with engine.connect() as connection:
        await connection.execute(
            text(
                "INSERT INTO rate_limits (key, paid_off_at) VALUES (:key, now() + interval '2 min')"
                " ON CONFLICT (key) DO UPDATE SET paid_off_at = excluded.paid_off_at"
            ),
            {"key": f"member:{world.members['officer']}"},
        )
        await connection.commit()
    opened = await gql(
        "mutation($input: OpenNeedInput!) {"
        ' openNeed(input: $input, idempotencyKey: "k") { need { id } } }',
        {
            "input": {
                "childId": child,
                "category": "MATERIAL",
                "urgency": "HIGH",
                "description": "冬衣",
            }
        },
        as_="officer",
    )
    assert opened.status_code == 429 and opened.codes == ["RATE_LIMITED"] and opened.data is None
    async with engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(Need))).scalar() == 0
    # Budgets are per principal: another member of the same world is not held back.
    assert (await gql("{ viewer { __typename } }", as_="ngo")).ok()


async def test_the_refusal_is_429_in_either_media_type(
    http: httpx.AsyncClient, tokens: Tokens, world: World, engine: AsyncEngine
) -> None:
    token = await tokens.member("ngo")
    async with engine.connect() as connection:
        await connection.execute(
            text(
                "INSERT INTO rate_limits (key, paid_off_at) VALUES (:key, now() + interval '2 min')"
            ),
            {"key": f"member:{world.members['ngo']}"},
        )
        await connection.commit()
    for accept in ("application/graphql-response+json", "application/json"):
        refused = await http.post(
            "/graphql",
            json={"query": "{ viewer { login } }"},
            headers={"Authorization": f"Bearer {token}", "Accept": accept},
        )
        assert refused.status_code == 429, accept
        assert refused.headers["content-type"].startswith(accept)
        assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["RATE_LIMITED"]
        assert "data" not in refused.json() or refused.json()["data"] is None


async def test_prune_forgets_budgets_that_are_paid_off(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    assert (await gql("{ viewer { __typename } }", as_="ngo")).ok()
    assert len(await spent_rows(engine)) == 1
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        assert (await prune(session, Settings(), datetime.now(UTC)))["rate_limits"] == 0
    async with sessions.begin() as session:
        later = datetime.now(UTC) + timedelta(minutes=2)
        assert (await prune(session, Settings(), later))["rate_limits"] == 1
    assert await spent_rows(engine) == []


async def test_spending_skips_the_disk_flush_for_its_own_transaction_only(
    engine: AsyncEngine,
) -> None:
    """The rate limit's transaction commits without waiting for the WAL flush; the connection's
    next transaction (back in the pool, for other work) waits for it as always."""
    async with engine.connect() as connection:
        default = await connection.scalar(text("SHOW synchronous_commit"))
        await connection.commit()
        session = AsyncSession(bind=connection)
        async with session.begin():
            admission = await rate_limits.spend(session, "client:flush-test", 1, PER_MINUTE)
            assert admission.admitted
            assert await session.scalar(text("SHOW synchronous_commit")) == "off"
        assert await connection.scalar(text("SHOW synchronous_commit")) == default == "on"


async def test_processes_sharing_a_budget_never_admit_more_than_it(
    database_url: str, engine: AsyncEngine
) -> None:
    """Three OS processes, each with its own pool, spend from one principal's budget at once."""
    cost, per_minute, attempts, processes = 10, 1000, 60, 3
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.rate_storm",
            database_url,
            "member:storm",
            str(cost),
            str(per_minute),
            str(attempts),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 60)).strip() == b"ready"
    started = time.monotonic()
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    outputs = [await asyncio.wait_for(worker.communicate(), 120) for worker in workers]
    elapsed = time.monotonic() - started
    admitted = sum(int(out.strip()) for out, _ in outputs)
    # A minute's budget at once, plus what refilled while the storm lasted, and not one more.
    refilled = math.floor(elapsed * per_minute / 60 / cost)
    assert per_minute // cost <= admitted <= per_minute // cost + refilled, (admitted, elapsed)
    assert admitted < processes * attempts


async def test_an_operation_past_the_request_timeout_ends_with_timeout(
    engine: AsyncEngine, settings: Settings, world: World
) -> None:
    hurried = dataclasses.replace(settings, request_timeout_seconds=0.001)
    app = create_app(hurried, engine=engine)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
        ) as http,
    ):
        response = await http.post(
            "/graphql",
            json={"query": "{ needs(first: 50) { nodes { id child { code } claims { id } } } }"},
            headers={"X-Hub-Dev-Member": "officer"},
        )
    assert response.status_code == 504
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"]


async def test_over_a_websocket_queries_time_out_and_subscriptions_run_on(
    engine: AsyncEngine, settings: Settings, tokens: Tokens, world: World
) -> None:
    hurried = dataclasses.replace(settings, request_timeout_seconds=0.5)
    app = create_app(hurried, engine=engine)
    token = await tokens.member("officer")
    async with (
        LifespanManager(app),
        served(app) as address,
        subscribed(address, token) as stream,
    ):
        # The subscription (id 1) outlives the timeout many times over.
        await asyncio.sleep(1.0)
        # The query waits for a connection, every one of the pool held meanwhile.
        held = [await engine.connect() for _ in range(engine.pool.size())]
        try:
            await stream.connection.send(
                '{"id": "2", "type": "subscribe", "payload": {"query": '
                '"{ needs(first: 50) { nodes { id child { code } claims { id } } } }"}}'
            )
            message = await stream.receive()
        finally:
            for connection in held:
                await connection.close()
        assert message.type == "error"
        assert [e["extensions"]["code"] for e in message.payload] == ["TIMEOUT"]
        # Nothing ended the subscription: no error and no complete for it.
        assert await stream.quiet(0.3)


async def test_the_database_cancels_a_statement_past_the_timeout(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, statement_timeout_seconds=0.2)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError, match="statement timeout"):
                await connection.execute(text("SELECT pg_sleep(5)"))
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


@pytest.fixture
async def hub(app: Starlette) -> AsyncIterator[str]:
    async with served(app) as address:
        yield address


async def test_a_connection_runs_at_most_its_share_of_subscriptions(
    app: Starlette, hub: str, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("officer")
    async with subscribed(hub, token) as stream:
        await asyncio.sleep(0.2)  # the first subscription is running
        await stream.connection.send(
            '{"id": "2", "type": "subscribe", "payload": {"query": '
            '"subscription { needEvents { kind } }"}}'
        )
        message = await stream.receive()
        assert message.type in ("next", "error")
        errors = message.payload if message.type == "error" else message.payload["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["TOO_MANY_SUBSCRIPTIONS"]
        # The refused one completes; the first runs on.
        assert (await stream.receive()).type == "complete"
        assert await stream.quiet(0.3)


async def test_depth_and_cost_limits_hold_for_subscriptions(
    app: Starlette, hub: str, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("officer")
    deep = "subscription { needEvents { need { " + "child { needs { " * 6 + "id" + " } }" * 6
    deep += " } } }"
    async with subscribed(hub, token) as stream:
        await stream.connection.send(
            '{"id": "2", "type": "subscribe", "payload": {"query": "' + deep + '"}}'
        )
        assert await stream.ended_with() == ["QUERY_TOO_DEEP"]


def test_limits_are_read_from_the_environment_and_checked() -> None:
    settings = Settings.from_env(
        {
            "HUB_MAX_DEPTH": "8",
            "HUB_MAX_ALIASES": "5",
            "HUB_MAX_TOKENS": "500",
            "HUB_MAX_DOCUMENT_LENGTH": "4096",
            "HUB_MAX_COST": "1000",
            "HUB_RATE_LIMIT_COST_PER_MINUTE": "5000",
            "HUB_REQUEST_TIMEOUT_SECONDS": "2.5",
            "HUB_MAX_SUBSCRIPTIONS_PER_CONNECTION": "3",
        }
    )
    assert (settings.max_depth, settings.max_aliases, settings.max_tokens) == (8, 5, 500)
    assert (settings.max_document_length, settings.max_cost) == (4096, 1000)
    assert settings.rate_limit_cost_per_minute == 5000
    assert settings.request_timeout_seconds == 2.5
    assert settings.max_subscriptions_per_connection == 3
    with pytest.raises(SettingsError, match="HUB_RATE_LIMIT_COST_PER_MINUTE"):
        Settings.from_env({"HUB_MAX_COST": "2000", "HUB_RATE_LIMIT_COST_PER_MINUTE": "1000"})
    with pytest.raises(SettingsError, match="HUB_MAX_DEPTH"):
        Settings.from_env({"HUB_MAX_DEPTH": "0"})
