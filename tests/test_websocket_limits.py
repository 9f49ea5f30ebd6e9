"""WebSocket connections are bounded: a socket that never sends connection_init is closed,
and a principal may hold only so many connections open in a process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub.settings import Settings
from tests.auth import Tokens
from tests.conftest import TEST_SETTINGS
from tests.events_client import PROTOCOL, Rejected, served

LIMIT = 2


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="dev",
        data_dir=tmp_path,
        websocket_init_timeout_seconds=0.5,
        max_websockets_per_principal=LIMIT,
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )


@pytest.fixture
async def hub(app: Starlette) -> AsyncIterator[str]:
    async with served(app) as address:
        yield address


@contextlib.asynccontextmanager
async def initialised(address: str, token: str) -> AsyncIterator[ClientConnection]:
    """A connection whose connection_init was acknowledged; Rejected if the hub closed it."""
    async with connect(f"ws://{address}/graphql", subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        try:
            ack = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            raise Rejected(closed.rcvd.code, closed.rcvd.reason) from None
        assert ack["type"] == "connection_ack", ack
        yield ws


async def test_a_socket_that_never_initialises_is_closed(hub: str) -> None:
    started = time.monotonic()
    async with connect(f"ws://{hub}/graphql", subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4408
    assert time.monotonic() - started < 3


async def test_a_principal_holds_at_most_its_limit_of_connections(hub: str, tokens: Tokens) -> None:
    ngo, officer = await tokens.member("ngo"), await tokens.member("officer")
    async with initialised(hub, ngo), initialised(hub, ngo):
        with pytest.raises(Rejected) as refused:
            async with initialised(hub, ngo):
                pass
        assert refused.value.code == 1008
        assert refused.value.reason.startswith("TOO_MANY_CONNECTIONS")
        # Another principal is not held to this one's count.
        async with initialised(hub, officer):
            pass
    # Closed connections are counted out (once the hub has seen them close).
    for _ in range(50):
        try:
            async with initialised(hub, ngo), initialised(hub, ngo):
                return
        except Rejected:
            await asyncio.sleep(0.1)
    raise AssertionError("closed connections were never counted out")
