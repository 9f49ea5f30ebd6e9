"""One deadline per HTTP request, and a JSON answer with a code whatever fails.

The deadline starts when the request arrives and covers everything the hub does for it: reading
the body, the bearer check, the rate-limit charge, waiting for a pool connection, the compiled
operations, execution, and the OAuth endpoints. Past it the client gets 504 ``TIMEOUT`` at once.
The work is cancelled but not waited for: cleaning up after a stalled database (a rollback, a
connection's close) can itself stall, and the answer must not wait behind it.

An exception that escapes a handler becomes JSON too, never Starlette's plain-text 500: 503
``DATABASE_UNAVAILABLE`` with ``Retry-After`` when the database cannot be reached now, else 500
``INTERNAL_SERVER_ERROR`` with a ``requestId`` that the log line repeats. Neither carries the
driver's message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.db.availability import is_database_unavailable
from hub.protocol.errors import (
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_MESSAGE,
    RETRY_AFTER_SECONDS,
    timeout_error,
)
from hub.protocol.media import JSON, negotiate
from hub.protocol.refusals import OAUTH_PATHS

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal server error"


class RequestGuard:
    """ASGI middleware around the whole application (HTTP only: a WebSocket lives on)."""

    def __init__(self, app: ASGIApp, timeout_seconds: float) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds
        # Work cancelled at its deadline, still unwinding: kept so that it is not collected.
        self._abandoned: set[asyncio.Future[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = False
        answered = False

        async def send_unless_answered(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the guard has answered for it: late output goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # Woken by whichever comes first, the work's end or the deadline: a bare future and a
        # timer cost half of what ``asyncio.wait`` does, on every request.
        work: asyncio.Future[None] = asyncio.ensure_future(
            self.app(scope, receive, send_unless_answered)
        )
        woken: asyncio.Future[None] = loop.create_future()

        def wake(*_: object) -> None:
            if not woken.done():
                woken.set_result(None)

        work.add_done_callback(wake)
        timer = loop.call_later(self.timeout_seconds, wake)
        try:
            await woken
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            timer.cancel()
        if work.done():
            error = work.exception()
            if error is None:
                return
            if started:
                raise error  # half a response is out: only the server can end it
            status, body, headers = _failure(scope, error)
        else:
            work.cancel()
            self._abandon(work)
            if started:
                answered = True
                return  # too late to answer: the server ends the unfinished response
            logger.warning(
                "%s %s ran past its %s s deadline",
                scope.get("method"),
                scope.get("path"),
                self.timeout_seconds,
            )
            status, body, headers = _timeout(scope, self.timeout_seconds)
        answered = True
        await _send(send, status, body, headers, _media_type(scope))

    def _abandon(self, work: asyncio.Future[None]) -> None:
        self._abandoned.add(work)
        work.add_done_callback(self._forget)

    def _forget(self, work: asyncio.Future[None]) -> None:
        self._abandoned.discard(work)
        if not work.cancelled() and work.exception() is not None:
            logger.debug("a request cancelled at its deadline failed", exc_info=work.exception())


def _timeout(scope: Scope, seconds: float) -> tuple[int, bytes, dict[str, str]]:
    error = timeout_error(seconds)
    return 504, _body(scope, error, "temporarily_unavailable"), {}


def _failure(scope: Scope, error: BaseException) -> tuple[int, bytes, dict[str, str]]:
    request_id = uuid.uuid4().hex
    where = f"{scope.get('method')} {scope.get('path')}"
    if is_database_unavailable(error):
        logger.warning(
            "the database is unavailable: %s (request %s)", where, request_id, exc_info=error
        )
        body = {
            "message": DATABASE_UNAVAILABLE_MESSAGE,
            "extensions": {"code": DATABASE_UNAVAILABLE, "requestId": request_id},
        }
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return 503, _body(scope, body, "temporarily_unavailable"), headers
    logger.error("internal error in %s (request %s)", where, request_id, exc_info=error)
    body = {
        "message": INTERNAL_MESSAGE,
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    }
    return 500, _body(scope, body, "server_error"), {}


def _body(scope: Scope, error: dict[str, Any], oauth_error: str) -> bytes:
    """GraphQL's error list (with ``data: null`` on /graphql as application/json, as the
    normal path answers an operation that produced nothing); on the OAuth endpoints also the
    fields OAuth clients read."""
    content: dict[str, Any] = {"errors": [error]}
    path = str(scope.get("path", ""))
    if path.startswith(OAUTH_PATHS):
        content = {"error": oauth_error, "error_description": error["message"], **content}
    elif path == "/graphql" and _media_type(scope) == JSON:
        content = {"data": None, **content}
    return orjson.dumps(content)


def _media_type(scope: Scope) -> str:
    """On /graphql the media type the client negotiated; JSON everywhere else."""
    if scope.get("path") != "/graphql":
        return JSON
    for name, value in scope.get("headers") or ():
        if name == b"accept":
            return negotiate(value.decode("latin-1")) or JSON
    return JSON


async def _send(
    send: Send, status: int, body: bytes, headers: dict[str, str], media_type: str
) -> None:
    raw_headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
