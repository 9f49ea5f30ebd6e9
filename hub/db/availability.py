"""Telling "the database cannot be reached now" apart from every other failure.

A server that is down, restarting, refusing connections, shutting down or out of connection
slots, and a connection lost mid-request, are the operator's to fix and the client's to retry:
they are answered 503 ``DATABASE_UNAVAILABLE`` with ``Retry-After``. Anything else is an internal
error. Either way the driver's message stays in the log, never in a response.
"""

from __future__ import annotations

import errno
import socket

import asyncpg
from sqlalchemy import exc

# What asyncpg raises when it cannot reach the server or loses it: SQLSTATE class 08
# (connection exceptions), 57P01-57P03 (admin or crash shutdown, cannot connect now), 53300
# (too many connections).
_DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)
# Socket errors of a connect or of a connection in use; file errors are not the network's.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
    }
)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error``, or anything it was raised from, says the database cannot be reached
    now (rather than that a statement or the hub itself went wrong)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _says_unavailable(current):
            return True
        original = getattr(current, "orig", None)
        pending.extend(
            (current.__cause__, current.__context__, original)
            if isinstance(original, BaseException)
            else (current.__cause__, current.__context__)
        )
    return False


def _says_unavailable(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True  # SQLAlchemy recognised a disconnect and discarded the connection
    if isinstance(error, exc.DisconnectionError | exc.TimeoutError):
        return True  # a closed connection at checkout; no connection free in the pool
    if isinstance(error, _DRIVER_ERRORS):
        return True
    if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
        return True  # refused, reset, aborted; a connect that timed out; an unknown host
    if isinstance(error, OSError):
        # asyncio's create_connection reports several failed addresses as one OSError with
        # no errno ("Multiple exceptions: ..."). A connect to a Unix socket that is not there
        # (a local server, the embedded one among them, that is down) is ENOENT without a file
        # name; a file the hub itself fails to open names its file.
        return (
            error.errno in _NETWORK_ERRNOS
            or (error.errno is None and str(error).startswith("Multiple exceptions"))
            or (error.errno == errno.ENOENT and error.filename is None)
        )
    return False
