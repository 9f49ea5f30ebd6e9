"""Count the SQL statements, transactions and pool checkouts the hub makes, to catch N+1
queries and round trips that need not be."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from asyncpg import introspection
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


@contextlib.contextmanager
def _recording(engine: AsyncEngine, name: str, entry: Callable[..., T | None]) -> Iterator[list[T]]:
    """While the block runs, what ``entry`` makes of each ``name`` event of the engine (None:
    nothing to record)."""
    recorded: list[T] = []

    def record(*args: Any) -> None:
        found = entry(*args)
        if found is not None:
            recorded.append(found)

    event.listen(engine.sync_engine, name, record)
    try:
        yield recorded
    finally:
        event.remove(engine.sync_engine, name, record)


@contextlib.contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement sent on the engine's connections while the block runs: those SQLAlchemy
    executes (its ``before_cursor_execute`` event), and those sent past it on a connection's
    asyncpg connection (``hub.db.raw``), which asyncpg reports to the query loggers of the
    connections taken from the pool during the block. asyncpg reports a statement from the
    event loop just after it ran: ``await reported()`` before reading the count.

    Not counted: the transactions' own BEGIN, COMMIT and ROLLBACK (``count_transactions``),
    and the types asyncpg looks up for itself the first time a connection meets them."""
    statements: list[str] = []
    # SQLAlchemy hands an executemany to asyncpg's own, which reports it too: counted once.
    batches: Counter[str] = Counter()

    def executed(*args: Any) -> None:
        _conn, _cursor, statement, _parameters, _context, executemany = args
        statements.append(statement)
        if executemany:
            batches[statement] += 1

    def sent(record: Any) -> None:
        query = record.query
        if batches[query]:
            batches[query] -= 1
        elif not _asyncpgs_own(query):
            statements.append(query)

    drivers: list[Any] = []

    def checkout(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(sent)
        drivers.append(driver)

    event.listen(engine.sync_engine, "before_cursor_execute", executed)
    event.listen(engine.sync_engine, "checkout", checkout)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "checkout", checkout)
        event.remove(engine.sync_engine, "before_cursor_execute", executed)
        for driver in drivers:
            driver.remove_query_logger(sent)


async def reported() -> None:
    """Let the event loop run the query loggers asyncpg has been given statements for."""
    await asyncio.sleep(0)


# What asyncpg sends for itself: a transaction's BEGIN, COMMIT, ROLLBACK and savepoints, and
# the lookups of types it has no codec for yet (with the JIT set off around them).
_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
_JIT_SETTING = re.compile(r"\s*SELECT\s+(current_setting|set_config)\('jit'")
_TYPE_LOOKUPS = frozenset(
    (
        introspection.INTRO_LOOKUP_TYPES,
        introspection.INTRO_LOOKUP_TYPES_13,
        introspection.TYPE_BY_NAME,
    )
)


def _asyncpgs_own(query: str) -> bool:
    return (
        query in _TYPE_LOOKUPS
        or _TRANSACTION_CONTROL.match(query) is not None
        or _JIT_SETTING.match(query) is not None
    )


def count_transactions(engine: AsyncEngine) -> contextlib.AbstractContextManager[list[bool]]:
    """Every transaction begun on the engine: each costs its own BEGIN and ROLLBACK (or COMMIT)
    round trips. Sessions in autocommit send neither, and are not counted."""

    def begun(conn: Any) -> bool | None:
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        return None if autocommit else True

    return _recording(engine, "begin", begun)


def count_checkouts(engine: AsyncEngine) -> contextlib.AbstractContextManager[list[bool]]:
    """Every connection taken from the engine's pool."""
    return _recording(engine, "checkout", lambda *_: True)
