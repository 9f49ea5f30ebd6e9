"""Count the SQL statements the hub sends, to catch N+1 queries."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextlib.contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextlib.contextmanager
def count_transactions(engine: AsyncEngine) -> Iterator[list[None]]:
    """Every transaction begun on the engine: each costs its own BEGIN and ROLLBACK (or COMMIT)
    round trips. Sessions in autocommit send neither, and are not counted."""
    begun: list[None] = []

    def record(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            begun.append(None)

    event.listen(engine.sync_engine, "begin", record)
    try:
        yield begun
    finally:
        event.remove(engine.sync_engine, "begin", record)


@contextlib.contextmanager
def count_checkouts(engine: AsyncEngine) -> Iterator[list[None]]:
    """Every connection taken from the engine's pool."""
    taken: list[None] = []

    def record(*_args: Any) -> None:
        taken.append(None)

    event.listen(engine.sync_engine, "checkout", record)
    try:
        yield taken
    finally:
        event.remove(engine.sync_engine, "checkout", record)
