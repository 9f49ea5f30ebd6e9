"""What the database holds, for asserting that a refused request changed nothing."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Bookkeeping of the hub itself, not of the register: every request that runs spends from its
# principal's rate-limit budget, whether its answer is a change or a refusal.
NOT_THE_REGISTER = ("alembic_version", "rate_limits")


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the register (the tests' tables are small), by table name."""
    state: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as connection:
        tables = (
            await connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> ALL(:skipped) ORDER BY tablename"
                ),
                {"skipped": list(NOT_THE_REGISTER)},
            )
        ).scalars()
        for table in list(tables):
            rows = await connection.execute(text(f'SELECT * FROM "{table}"'))
            state[table] = sorted((tuple(row) for row in rows), key=repr)
    return state


async def count(engine: AsyncEngine, table: str, where: str = "TRUE") -> int:
    async with engine.connect() as connection:
        value = await connection.scalar(text(f'SELECT count(*) FROM "{table}" WHERE {where}'))
    return int(value or 0)


async def truncate(connection: AsyncConnection, tables: str) -> None:
    """Empty tables between tests, the audit log included: its guard against TRUNCATE is a
    trigger, which a replication session (a superuser's, as the tests' is) does not fire."""
    await connection.execute(text("SET LOCAL session_replication_role = replica"))
    await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
