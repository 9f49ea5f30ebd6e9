"""Requests across a PostgreSQL restart: a hub on a server of the test's own, under concurrent
reads (nested fields through DataLoaders, the compiled needs page) and writes (``openNeed``,
the compiled claim), while the server is restarted. While it is away every answer is a correct
one or 503 ``DATABASE_UNAVAILABLE`` with ``Retry-After``; once it is back every request
succeeds; and nothing is logged as an internal error.

A restart ends each connection with a FATAL message and then its close; a pooled connection
met between the two (a moment, by chance under the load; for certain in the second test,
through a proxy that passes the close on late) can run no statement."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from hub.app import create_app
from hub.db import migrate
from hub.db.engine import async_url, create_engine
from hub.fast_claim import CLAIM_NEED
from hub.fast_path import NEEDS_PAGE
from hub.settings import Settings
from tests.auth import Tokens
from tests.conftest import TEST_SETTINGS
from tests.coordination import OPEN_NEED, REGISTER
from tests.db_proxy import proxied
from tests.events_client import served
from tests.own_server import OwnServer, own_server
from tests.world import COUNTY, VILLAGE, build_world

# Nested fields: the region, child and claims of each need come through DataLoaders, each
# batch on a connection of its own, concurrently.
NEEDS = """
query($county: String!) {
  needs(filter: {jurisdiction: $county}, first: 20) {
    nodes { id status region { code name } child { code } claims { status } }
  }
}
"""
WORKERS = 8
POOL_SIZE = 4  # fewer than the workers: connections are handed from one request to the next
BEFORE_SECONDS = 1.0
DOWN_SECONDS = 1.0  # without a server, as a restart with a recovery would be
SETTLE_SECONDS = 1.5  # after the server is back, before every request must succeed
AFTER_SECONDS = 2.0


@dataclass
class Answer:
    sent: float  # time.monotonic()
    phase: str
    operation: str
    status: int
    codes: tuple[str, ...]
    retry_after: str | None


@dataclass
class Load:
    """Workers sending the four operations by turns, recording each answer with the phase it
    was sent in."""

    address: str
    officer: str
    ngo: str
    child: str
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)  # opened under load, for the claims
    _keys: Iterator[int] = field(default_factory=itertools.count)

    async def run(self, worker: int, stop: asyncio.Event) -> None:
        operations = (self.read, self.open_need, self.page, self.claim)
        async with httpx.AsyncClient(base_url=f"http://{self.address}", timeout=30) as http:
            for turn in itertools.count(worker):
                if stop.is_set():
                    return
                phase, sent = self.phase, time.monotonic()
                name, response = await operations[turn % len(operations)](http)
                self.answers.append(_answer(sent, phase, name, response))

    async def _post(
        self, http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
    ) -> httpx.Response:
        return await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )

    async def read(self, http: httpx.AsyncClient) -> tuple[str, httpx.Response]:
        return "needs", await self._post(http, self.ngo, NEEDS, {"county": COUNTY})

    async def open_need(self, http: httpx.AsyncClient) -> tuple[str, httpx.Response]:
        opening = {
            "input": {
                "childId": self.child,
                "category": "MATERIAL",
                "urgency": "HIGH",
                "description": "冬季棉衣两件",
            }
        }
        response = await self._post(http, self.officer, OPEN_NEED, opening)
        if response.status_code == 200 and not response.json().get("errors"):
            self.needs.append(response.json()["data"]["openNeed"]["need"]["id"])
        return "openNeed", response

    async def page(self, http: httpx.AsyncClient) -> tuple[str, httpx.Response]:
        return "compiled page", await self._post(http, self.ngo, NEEDS_PAGE, {"county": COUNTY})

    async def claim(self, http: httpx.AsyncClient) -> tuple[str, httpx.Response]:
        need = self.needs[-1]  # a fresh one when the writes go through, else claimed already
        variables = {"need": need, "key": f"restart-{next(self._keys)}"}
        return "compiled claim", await self._post(http, self.ngo, CLAIM_NEED, variables)


def _answer(sent: float, phase: str, operation: str, response: httpx.Response) -> Answer:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = [{"extensions": {"code": f"not JSON: {response.text[:80]!r}"}}]
    codes = tuple(str(error.get("extensions", {}).get("code")) for error in errors)
    retry_after = response.headers.get("Retry-After")
    return Answer(sent, phase, operation, response.status_code, codes, retry_after)


def _succeeded(answer: Answer) -> bool:
    return answer.status == 200 and not answer.codes


def _unavailable(answer: Answer) -> bool:
    return (
        answer.status == 503
        and set(answer.codes) == {"DATABASE_UNAVAILABLE"}
        and answer.retry_after is not None
        and int(answer.retry_after) > 0
    )


@pytest.fixture
def server() -> Iterator[OwnServer]:
    with own_server() as started:
        yield started


@contextlib.asynccontextmanager
async def hub_on(url: str, data_dir: Path) -> AsyncIterator[tuple[Starlette, Tokens]]:
    """A hub on ``url``, with an engine built as ``hub serve`` builds its own (timeouts
    included), the test world in its database, and tokens it accepts."""
    settings = Settings(env="dev", data_dir=data_dir, **TEST_SETTINGS)  # type: ignore[arg-type]
    engine = create_engine(
        async_url(url),
        pool_size=POOL_SIZE,
        statement_timeout_seconds=settings.request_timeout_seconds,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        pool_timeout_seconds=settings.request_timeout_seconds,
    )
    app = create_app(settings, engine=engine)
    try:
        async with LifespanManager(app):
            world = await build_world(engine)
            yield app, Tokens(app, engine, world, settings)
    finally:
        await engine.dispose()


async def _register_child(address: str, officer: str) -> str:
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
        registered = await http.post(
            "/graphql",
            json={
                "query": REGISTER,
                "variables": {
                    "input": {
                        "regionCode": VILLAGE,
                        "birthDate": "2017-03-01",
                        "guardianship": "GRANDPARENTS",
                        "fatherAway": True,
                        "motherAway": True,
                        "identity": {"fullName": "王小明"},
                    }
                },
            },
            headers={"Authorization": f"Bearer {officer}"},
        )
    return str(registered.json()["data"]["registerChild"]["child"]["id"])


@pytest.mark.slow
async def test_every_answer_across_a_restart_is_a_result_or_database_unavailable(
    server: OwnServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await migrate.upgrade(async_url(server.url))
    async with hub_on(server.url, tmp_path) as (app, tokens), served(app) as address:
        officer, ngo = await tokens.member("officer"), await tokens.member("ngo")
        load = Load(address, officer, ngo, await _register_child(address, officer))
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=30) as http:
            await load.open_need(http)  # a need to claim from the start
        caplog.set_level(logging.ERROR)
        stop = asyncio.Event()
        workers = [asyncio.create_task(load.run(n, stop)) for n in range(WORKERS)]
        await asyncio.sleep(BEFORE_SECONDS)
        load.phase = "restart"
        started = time.monotonic()
        await asyncio.to_thread(server.restart, DOWN_SECONDS)
        back = time.monotonic()
        await asyncio.sleep(SETTLE_SECONDS)
        load.phase = "after"
        await asyncio.sleep(AFTER_SECONDS)
        stop.set()
        await asyncio.gather(*workers)

    tally = Counter(
        f"{a.phase} {a.operation} {a.status} {','.join(a.codes)}".strip() for a in load.answers
    )
    first_success = min(
        (a.sent - back for a in load.answers if a.sent > back and _succeeded(a)), default=None
    )
    report = {
        "restart seconds": round(back - started, 2),
        "first success after the server was back (s)": first_success and round(first_success, 2),
        "answers": dict(sorted(tally.items())),
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))
    internal = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    wrong = [a for a in load.answers if not (_succeeded(a) or _unavailable(a))]
    assert wrong == [], report
    assert internal == [], (internal[:5], report)
    assert all(_succeeded(a) for a in load.answers if a.phase == "after"), report
    # The load did reach every operation on each side of the restart.
    for phase in ("before", "after"):
        done = {a.operation for a in load.answers if a.phase == phase and _succeeded(a)}
        assert done == {"needs", "openNeed", "compiled page", "compiled claim"}, report


# Through the proxy, the server's goodbye reaches the hub at once and the close this much later.
CLOSE_LAG_SECONDS = 2.0


async def _until_down(server: OwnServer) -> None:
    """Wait until the server refuses connections: it has stopped, its backends are gone, and
    each has sent its connection the FATAL that says so."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            connection = await asyncpg.connect(server.url, timeout=1)
        except OSError:
            return
        except asyncpg.PostgresError:
            pass  # shutting down: says so, but its backends may still be on their way out
        else:
            await connection.close()
        await asyncio.sleep(0.02)
    raise AssertionError("the server did not stop")


async def _one_of_each(load: Load, http: httpx.AsyncClient) -> list[Answer]:
    """Every operation at once, POOL_SIZE times: more requests than pooled connections."""
    operations = (load.read, load.open_need, load.page, load.claim) * POOL_SIZE
    sent = time.monotonic()
    answered = await asyncio.gather(*(operation(http) for operation in operations))
    return [_answer(sent, load.phase, name, response) for name, response in answered]


@pytest.mark.slow
async def test_pooled_connections_the_server_ended_are_answered_as_unavailable(
    server: OwnServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server goes down while the pool holds idle connections, and the end of each
    reaches the hub after the FATAL that announced it: in between each looks open to asyncpg
    and cannot run a statement. Every request then is 503 DATABASE_UNAVAILABLE; once the
    server is back, every request succeeds; nothing is logged as an internal error."""
    await migrate.upgrade(async_url(server.url))
    async with (
        proxied(server.url) as (proxy, url),
        hub_on(url, tmp_path) as (app, tokens),
        served(app) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=30) as http,
    ):
        officer, ngo = await tokens.member("officer"), await tokens.member("ngo")
        load = Load(address, officer, ngo, await _register_child(address, officer))
        await load.open_need(http)
        warm = await _one_of_each(load, http)  # the pool opens all its connections
        assert all(_succeeded(answer) for answer in warm), warm
        caplog.set_level(logging.ERROR)
        proxy.lag_closes(CLOSE_LAG_SECONDS)
        restarting = asyncio.create_task(asyncio.to_thread(server.restart, 1.0))
        await _until_down(server)
        load.phase = "down"
        down = await _one_of_each(load, http)
        proxy.lag_closes(0)  # so that closing the new connections at the end waits for nothing
        await restarting
        await asyncio.sleep(1.0)
        load.phase = "back"
        back = await _one_of_each(load, http)

    internal = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert [a for a in down if not _unavailable(a)] == [], down
    assert [a for a in back if not _succeeded(a)] == [], back
    assert internal == [], internal[:5]
