"""The load driver says when some of its users stopped before the time was up, so that a rate
measured with fewer users than asked for is not taken for the hub's."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.run import Processes, drive


async def _answer(request: Any) -> JSONResponse:
    return JSONResponse({"data": {"ok": True}})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A real HTTP server on a free port, answering every request. Its socket listens before
    the server starts, so connections made meanwhile wait for it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    app = Starlette(routes=[Route("/", _answer, methods=["POST"])])
    running = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    task = asyncio.create_task(running.serve(sockets=[listener]))
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        running.should_exit = True
        await task
        listener.close()


async def test_users_whose_walk_ends_early_are_counted(server: str) -> None:
    def walk(user: int, rng: Any) -> Any:
        # User 0 has three requests to send, as a storm client with three needs left; the
        # others have requests until the time is up.
        for sent in range(1_000_000):
            if user == 0 and sent == 3:
                return
            yield {"user": user}

    async def send(client: httpx.AsyncClient, user: int, request: Any) -> httpx.Response:
        return await client.post(server, json=request)

    tally, _ = await drive(
        send,
        walk,
        concurrency=3,
        duration=0.5,
        processes=Processes(hub_urls=[server]),
        check=lambda body, tally: None,
        servers=[],
        database="no_such_database",
    )
    assert tally.users_done_early == 1
    assert tally.errors == 0
    assert len(tally.latencies) > 3  # the two others went on sending
