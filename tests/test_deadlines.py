"""One deadline per request, from its arrival: a stalled database or a pool held by blocked
transactions gets a 504 ``TIMEOUT`` within the limit (plus a small margin), on every path -
the bearer check, the compiled operations, the rate-limit charge, the OAuth endpoints - and
/readyz answers within a second that the hub is not ready.

The database is stalled through a proxy of the test's own (``tests.db_proxy``), never by
pausing the server other tests share. Stalled, a request waited for as long as the stall
lasted; the bounds below separate "answers on time" from that."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import scenarios
from hub.fast_claim import CLAIM_NEED
from hub.settings import Settings
from tests.auth import Tokens
from tests.events_client import Rejected, served, subscribed
from tests.proxied_hub import ProxiedHub, proxied_hub, timed
from tests.world import COUNTY, World

LIMIT = 1.0  # HUB_REQUEST_TIMEOUT_SECONDS in these tests
MARGIN = 1.0  # generous, for a busy machine: a hang lasts as long as the stall
NEEDS = "query Needs($county: String!) { needs(filter: {jurisdiction: $county}) { nodes { id } } }"
A_NEED = "TmVlZDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDE="


def hurried(settings: Settings) -> Settings:
    return dataclasses.replace(settings, request_timeout_seconds=LIMIT)


async def post(hub: ProxiedHub, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await hub.http.post("/graphql", json=body, headers=headers)


def timed_out(response: httpx.Response) -> bool:
    codes = [error["extensions"]["code"] for error in response.json()["errors"]]
    return response.status_code == 504 and codes == ["TIMEOUT"]


async def test_a_stalled_database_answers_timeout_within_the_limit_on_every_path(
    database_url: str, settings: Settings, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("ngo")
    async with proxied_hub(database_url, hurried(settings)) as hub:
        # Warm: the signing keys are loaded and the pool's connections open.
        assert (await post(hub, {"query": NEEDS, "variables": {"county": COUNTY}}, token)).json()[
            "data"
        ]
        hub.proxy.stall()
        requests = {
            "bearer check and execution": post(
                hub, {"query": NEEDS, "variables": {"county": COUNTY}}, token
            ),
            "compiled needs page": post(
                hub, {"query": scenarios.NEEDS_PAGE, "variables": {"county": COUNTY}}, token
            ),
            "compiled claim": post(
                hub, {"query": CLAIM_NEED, "variables": {"need": A_NEED, "key": "k-1"}}, token
            ),
            "rate-limit charge": post(hub, {"query": "{ __typename }"}),
            "persisted query": post(
                hub,
                {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}},
            ),
            "token endpoint": hub.http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=("c", "s")
            ),
        }
        answers = await asyncio.gather(*(timed(request) for request in requests.values()))
        for name, (response, seconds) in zip(requests, answers, strict=True):
            assert timed_out(response), (name, response.status_code, response.text)
            assert seconds < LIMIT + MARGIN, (name, seconds)

        ready, seconds = await timed(hub.http.get("/readyz"))
        assert seconds < 1.0
        assert ready.status_code == 503
        assert ready.json()["database"] == "unreachable"


async def test_a_websocket_connection_init_on_a_stalled_database_is_closed_on_time(
    database_url: str, settings: Settings, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("ngo")
    async with proxied_hub(database_url, hurried(settings)) as hub, served(hub.app) as address:
        assert (await post(hub, {"query": NEEDS, "variables": {"county": COUNTY}}, token)).json()[
            "data"
        ]
        hub.proxy.stall()

        async def connection_init() -> Rejected:
            with pytest.raises(Rejected) as rejected:
                async with subscribed(address, token):
                    pass
            return rejected.value

        rejected, seconds = await timed(connection_init())
        assert (rejected.code, rejected.reason) == (1013, "TIMEOUT")  # try again later
        assert seconds < LIMIT + MARGIN


async def test_a_pool_held_by_blocked_transactions_answers_fresh_reads_with_timeout(
    database_url: str, settings: Settings, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("ngo")
    async with proxied_hub(database_url, hurried(settings), pool_size=2) as hub:
        engine: AsyncEngine = hub.app.state.engine
        assert (await post(hub, {"query": NEEDS, "variables": {"county": COUNTY}}, token)).json()[
            "data"
        ]
        # Transactions that hold every connection of the pool and do not finish.
        held = [await engine.connect() for _ in range(2)]
        try:
            for connection in held:
                await connection.begin()
            fresh, seconds = await timed(
                post(hub, {"query": NEEDS, "variables": {"county": COUNTY}}, token)
            )
            assert timed_out(fresh), fresh.text
            assert seconds < LIMIT + MARGIN

            ready, seconds = await timed(hub.http.get("/readyz"))
            assert seconds < 1.0
            assert ready.status_code == 503
            assert ready.json()["database"] == "ok"  # it answers: only the pool is held
            assert (ready.json()["pool"], ready.json()["poolInUse"]) == ("exhausted", 2)
        finally:
            for connection in held:
                await connection.close()
        # The pool back, the same read is answered again.
        again = await post(hub, {"query": NEEDS, "variables": {"county": COUNTY}}, token)
        assert again.status_code == 200 and "errors" not in again.json()


async def test_a_stalled_connect_attempt_gives_up_at_the_connect_timeout(
    database_url: str, settings: Settings
) -> None:
    """A connection being opened to a stalled server fails at HUB_DB_CONNECT_TIMEOUT_SECONDS,
    instead of holding its task (a background task has no request deadline) for a minute."""
    quick = dataclasses.replace(settings, db_connect_timeout_seconds=0.5)
    async with proxied_hub(database_url, quick) as hub:
        engine: AsyncEngine = hub.app.state.engine
        await engine.dispose()  # no open connection left to reuse: the next one is opened
        hub.proxy.stall()

        async def connect() -> None:
            async with engine.connect():
                pass

        started = asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(connect(), 20)
        except TimeoutError:
            pass
        else:
            raise AssertionError("a connection opened through a stalled proxy")
        assert asyncio.get_running_loop().time() - started < 0.5 + MARGIN
