"""Failed client authentication is throttled: per client from one address, per client from all
addresses, per address; shared by every hub process; refused at once, without hashing."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.app import create_app
from hub.db.engine import create_engine
from hub.settings import Settings
from tests.auth import CLIENT_SECRET, Tokens, add_client, officer_client
from tests.world import World

ROOT = Path(__file__).resolve().parent.parent
SECRET = CLIENT_SECRET
ENDPOINTS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"]
FORM = {"grant_type": "client_credentials", "token": "not-a-token"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small budgets, so that a test reaches them in a few requests."""
    return dataclasses.replace(
        settings,
        client_auth_max_failures_per_client=3,
        client_auth_max_failures_per_client_total=6,
        client_auth_max_failures_per_address=5,
    )


@pytest.fixture
async def machine(engine: AsyncEngine, settings: Settings, world: World) -> str:
    return await officer_client(engine, settings, world)


@asynccontextmanager
async def from_address(app: Starlette, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the hub at ``address`` (as the ASGI scope tells it)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)),
        base_url="http://hub.test",
    ) as http:
        yield http


async def attempt(
    http: httpx.AsyncClient, client_id: str, secret: str, endpoint: str = "/oauth/token"
) -> httpx.Response:
    return await http.post(endpoint, data=FORM, auth=(client_id, secret))


def throttled(response: httpx.Response) -> bool:
    if response.status_code != 429:
        return False
    assert response.json()["error"] == "invalid_client"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["cache-control"] == "no-store"
    return True


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_wrong_secrets_are_throttled_at_every_endpoint(
    app: Starlette, machine: str, endpoint: str
) -> None:
    async with from_address(app, "10.0.0.1") as http:
        for _ in range(3):
            refused = await attempt(http, machine, "wrong", endpoint)
            assert refused.status_code == 401
            assert refused.json()["error"] == "invalid_client"
        assert throttled(await attempt(http, machine, "wrong", endpoint))
        # Not even the right secret is checked from here until the budget refills.
        assert throttled(await attempt(http, machine, SECRET, endpoint))
    async with from_address(app, "10.0.0.2") as elsewhere:
        # The client itself, elsewhere, is not locked out by a guesser.
        assert (await attempt(elsewhere, machine, SECRET, endpoint)).status_code == 200


async def test_a_client_guessed_from_many_addresses_is_throttled(
    app: Starlette, machine: str
) -> None:
    statuses = []
    for n in range(8):
        async with from_address(app, f"10.0.1.{n}") as http:
            statuses.append((await attempt(http, machine, "wrong")).status_code)
    assert statuses == [401] * 6 + [429] * 2


async def test_an_address_trying_many_clients_is_throttled(app: Starlette) -> None:
    async with from_address(app, "10.0.2.1") as http:
        statuses = [(await attempt(http, f"no-such-client-{n}", "x")).status_code for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2


async def test_garbled_assertions_count_against_the_address(app: Starlette) -> None:
    form = {
        **FORM,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "not.a.jwt",
    }
    async with from_address(app, "10.0.3.1") as http:
        statuses = [(await http.post("/oauth/token", data=form)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


async def test_only_failures_count(app: Starlette, machine: str) -> None:
    async with from_address(app, "10.0.4.1") as http:
        for _ in range(10):
            assert (await attempt(http, machine, SECRET)).status_code == 200
        assert (await attempt(http, machine, "wrong")).status_code == 401
        assert (await attempt(http, machine, SECRET)).status_code == 200
        assert [(await attempt(http, machine, "wrong")).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]


async def test_a_parallel_burst_is_held_to_the_budget(app: Starlette, machine: str) -> None:
    """Thirty wrong secrets at once: as many are checked as the budget allows, no more."""
    async with from_address(app, "10.0.5.1") as http:
        responses = await asyncio.gather(*(attempt(http, machine, "wrong") for _ in range(30)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * 3 + [429] * 27


@pytest.mark.slow
async def test_processes_share_the_budget(
    app: Starlette, machine: str, database_url: str, tmp_path: Path
) -> None:
    """Three OS processes, each a hub with its own pool, sent wrong secrets for one client from
    one address, all at once: the budget holds across them."""
    limit, attempts, processes = 4, 12, 3
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.client_auth_storm",
            database_url,
            str(tmp_path),
            machine,
            str(attempts),
            str(limit),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 60)).strip() == b"ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    outputs = [await asyncio.wait_for(worker.communicate(), 120) for worker in workers]
    counts = [tuple(int(n) for n in out.split()) for out, _ in outputs]
    checked = sum(c for c, _ in counts)
    refused = sum(r for _, r in counts)
    # A window of 900 s refills one failure every 225 s: none refills during the test.
    assert (checked, refused) == (limit, processes * attempts - limit), counts


# --- what it costs ---------------------------------------------------------------------------


@pytest.fixture
def costly(settings: Settings) -> Settings:
    """Hashing as in production (argon2id, 3 passes over 64 MiB); one failure per client from
    an address, ample budgets otherwise."""
    return dataclasses.replace(
        settings,
        password_hash_time_cost=3,
        password_hash_memory_kib=65536,
        client_auth_max_failures_per_client=1,
        client_auth_max_failures_per_client_total=100,
        client_auth_max_failures_per_address=100,
    )


@pytest.fixture
async def costly_machine(engine: AsyncEngine, costly: Settings, world: World) -> str:
    """A client whose secret is hashed as in production."""
    _, client_id = await add_client(
        engine, costly, world.providers["gan_bureau"], scopes=("register:read",), secret=SECRET
    )
    return client_id


@pytest.fixture
async def costly_app(engine: AsyncEngine, costly: Settings) -> AsyncIterator[Starlette]:
    application = create_app(costly, engine=engine)
    async with LifespanManager(application):
        yield application


async def timed(app: Starlette, address: str, client_id: str) -> float:
    async with from_address(app, address) as http:
        started = time.perf_counter()
        await attempt(http, client_id, "wrong")
        return time.perf_counter() - started


async def test_an_unknown_client_costs_what_a_wrong_secret_costs(
    costly_app: Starlette, costly_machine: str
) -> None:
    machine = costly_machine
    await timed(costly_app, "10.0.6.0", "warm-up")  # the decoy hash is made once per process
    wrong = [await timed(costly_app, f"10.0.6.{n}", machine) for n in range(1, 6)]
    unknown = [await timed(costly_app, f"10.0.6.{n}", "no-such-client") for n in range(1, 6)]
    async with from_address(costly_app, "10.0.6.9") as http:
        answers = {
            (r.status_code, r.text)
            for r in [await attempt(http, machine, "x"), await attempt(http, "nobody", "x")]
        }
    # Without the decoy an unknown id answered some 30 times faster than a wrong secret.
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2, (wrong, unknown)
    assert len(answers) == 1  # the same answer, word for word


async def test_a_throttled_answer_hashes_nothing(
    costly_app: Starlette, costly_machine: str
) -> None:
    """Refused by the throttle, an attempt answers long before one hash could be done."""
    machine = costly_machine
    hashed = statistics.median([await timed(costly_app, f"10.0.7.{n}", machine) for n in range(3)])
    async with from_address(costly_app, "10.0.7.9") as http:
        assert (await attempt(http, machine, "wrong")).status_code == 401
        spent = []
        for _ in range(5):
            started = time.perf_counter()
            assert throttled(await attempt(http, machine, "wrong"))
            spent.append(time.perf_counter() - started)
    assert statistics.median(spent) < hashed / 3, (hashed, spent)


# --- what a burst costs others ---------------------------------------------------------------


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A pool of one connection, so that holding it is felt at once."""
    small = create_engine(database_url, pool_size=1)
    yield small
    await small.dispose()


async def test_a_burst_of_wrong_secrets_holds_no_connection_others_need(
    small_pool: AsyncEngine, costly: Settings, world: World, engine: AsyncEngine
) -> None:
    """Six wrong secrets at once, each hashed for some 400 ms: a request needing the database
    meanwhile still gets a connection. (Each attempt held its connection while it hashed, and
    such a request waited for the whole burst, one hash after another: seconds.)"""
    slow = dataclasses.replace(
        costly,
        password_hash_time_cost=24,
        password_hash_memory_kib=16384,
        client_auth_max_failures_per_client=100,
    )
    _, client_id = await add_client(
        engine, slow, world.providers["gan_bureau"], scopes=("register:read",), secret=SECRET
    )
    application = create_app(slow, engine=small_pool)
    async with LifespanManager(application), from_address(application, "10.0.8.1") as http:
        token = await Tokens(application, small_pool, world, slow).member("officer")
        bearer = {"authorization": f"Bearer {token}"}
        query = {"query": "{ viewer { login } }"}
        assert (await http.post("/graphql", json=query, headers=bearer)).status_code == 200
        burst = asyncio.gather(*(attempt(http, client_id, "wrong") for _ in range(6)))
        await asyncio.sleep(0.2)  # the attempts are hashing now
        started = time.perf_counter()
        answer = await http.post("/graphql", json=query, headers=bearer)
        waited = time.perf_counter() - started
        hashing = not burst.done()
        statuses = {response.status_code for response in await burst}
    assert answer.json()["data"]["viewer"]["login"] == "officer"
    assert statuses == {401}
    assert hashing  # the request was served while the burst was still being hashed
    assert waited < 1.0, waited
