"""Raw statements (``hub.db.raw``) on a connection the server has ended: the connection is
discarded and the error told as a lost connection, as SQLAlchemy does for its own statements.

When PostgreSQL ends a connection (a fast shutdown or a restart, an administrator's
``pg_terminate_backend``, an idle-session timeout) it first sends its reason, a FATAL
ErrorResponse, and then closes the socket. A connection idle in the pool reads that message
when asyncpg expects none: asyncpg sets its protocol aside ("error consume", state 2) and marks
the connection closed only once it reads the end of the stream, a moment later (or, through a
proxy slow to pass the end on, much later). In between, ``is_closed()`` still says open, so
the pool's checkout hands the connection out (``hub.db.engine``), and its next statement fails
at once, before anything is sent, with ``InternalClientError: cannot switch to state 12;
another operation (2) is in progress``; asyncpg then aborts the connection.

On SQLAlchemy's path that is a disconnect: its asyncpg dialect asks, after any error, whether
the driver's connection is closed, and if so invalidates it and marks the error
``connection_invalidated`` (``DATABASE_UNAVAILABLE``, ``hub.db.availability``). A raw statement
runs past SQLAlchemy, so its error came out as asyncpg raised it, and the request was answered
500 INTERNAL_SERVER_ERROR. Here the same rule is applied to raw statements.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection


@contextlib.asynccontextmanager
async def discarded_when_lost(connection: AsyncConnection, driver: Any) -> AsyncIterator[None]:
    """Around statements run on ``driver``, ``connection``'s asyncpg connection, past
    SQLAlchemy: an error after which the driver's connection is closed invalidates
    ``connection`` (it does not go back to the pool) and is raised as SQLAlchemy's
    ``DisconnectionError``, from the driver's error; any other error is raised as it is."""
    try:
        yield
    except Exception as error:
        if not driver.is_closed():
            raise  # the statement failed, not the connection
        await connection.invalidate(error)
        raise exc.DisconnectionError("the database server ended this connection") from error
