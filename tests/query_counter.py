"""Count the SQL statements, transactions and pool checkouts the hub makes, to catch N+1
queries and round trips that need not be."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

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


def count_statements(engine: AsyncEngine) -> contextlib.AbstractContextManager[list[str]]:
    return _recording(
        engine, "before_cursor_execute", lambda _conn, _cursor, statement, *_: statement
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
