"""A graphql-transport-ws client for tests, over a real WebSocket, and a real server for it:
the test's hub application served by uvicorn on a free local port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"

NEED_EVENTS = """
subscription($jurisdiction: String, $categories: [NeedCategory!], $after: String) {
  needEvents(jurisdiction: $jurisdiction, categories: $categories, after: $after) {
    kind at cursor need { id status version category urgency description region { code } }
  }
}
"""


@contextlib.asynccontextmanager
async def served(app: Starlette) -> AsyncIterator[str]:
    """The app (its lifespan already running) on 127.0.0.1; yields its host:port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.01)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@contextlib.asynccontextmanager
async def listening(app: Starlette) -> AsyncIterator[str]:
    """``served``, once the hub listens for events; yields its host:port."""
    async with served(app) as address:
        await asyncio.wait_for(app.state.event_listener.listening.wait(), timeout=10)
        yield address


async def until(condition: Callable[[], bool], wait: float = 10.0) -> None:
    """Wait, a little at a time, until ``condition`` holds; fail after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@dataclass
class Message:
    type: str
    payload: Any = None


class Rejected(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class EventStream:
    """One connection with one subscription to needEvents."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def receive(self, wait: float = 10.0) -> Message:
        raw = await asyncio.wait_for(self.connection.recv(), timeout=wait)
        message = json.loads(raw)
        return Message(message["type"], message.get("payload"))

    async def next_event(self, wait: float = 10.0) -> dict[str, Any]:
        """The next event's data; fails on an error, a completion or a pause."""
        message = await self.receive(wait)
        assert message.type == "next", message
        assert not message.payload.get("errors"), message.payload
        return dict(message.payload["data"]["needEvents"])

    async def ended_with(self, wait: float = 10.0) -> list[str]:
        """The codes of the errors the stream ended with (skipping events before them)."""
        while True:
            message = await self.receive(wait)
            assert message.type in ("next", "error"), message
            payload = message.payload
            errors = payload if message.type == "error" else payload.get("errors")
            if errors:
                following = await self.receive(wait) if message.type == "next" else None
                assert following is None or following.type == "complete", following
                return [error.get("extensions", {}).get("code", "") for error in errors]

    async def quiet(self, seconds: float = 0.5) -> bool:
        """Whether nothing arrives for ``seconds``."""
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"expected nothing, got {message}")


@contextlib.asynccontextmanager
async def subscribed(
    address: str,
    token: str | None,
    *,
    variables: dict[str, Any] | None = None,
    init_payload: dict[str, Any] | None = None,
    query: str = NEED_EVENTS,
) -> AsyncIterator[EventStream]:
    """Connected, authenticated (``Authorization: Bearer token`` in connection_init) and
    subscribed to needEvents; raises ``Rejected`` if the hub closes the connection."""
    async with connect(f"ws://{address}/graphql", subprotocols=[PROTOCOL]) as connection:  # type: ignore[list-item]
        payload = init_payload if init_payload is not None else {}
        if token is not None and init_payload is None:
            payload = {"Authorization": f"Bearer {token}"}
        await connection.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            ack = json.loads(await asyncio.wait_for(connection.recv(), timeout=10))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            raise Rejected(closed.rcvd.code, closed.rcvd.reason) from None
        assert ack["type"] == "connection_ack", ack
        await connection.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield EventStream(connection)
