"""A copy of every table, kept in the test database, to put the database back to it between the
examples of a property-based test: each example that may write starts from the same rows.

The copy lives in a schema of its own beside the tables. Restoring replaces every row (with
triggers and foreign-key checks off, as tests/db_state.truncate does) except the access records:
the suite checks at the end of each test that every identity handed out wrote one, so those
only ever accumulate.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SCHEMA = "test_baseline"
NOT_RESTORED = ("alembic_version", "access_records")


async def save(engine: AsyncEngine) -> list[str]:
    """Copy every table; the names of the tables restore() puts back."""
    async with engine.begin() as connection:
        tables = list(
            (
                await connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> ALL(:kept) ORDER BY tablename"
                    ),
                    {"kept": list(NOT_RESTORED)},
                )
            ).scalars()
        )
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        for table in tables:
            await connection.execute(text(f'CREATE TABLE {SCHEMA}."{table}" AS TABLE "{table}"'))
    return tables


async def restore(engine: AsyncEngine, tables: list[str]) -> None:
    """In one round trip: examples are many, and the tables few and small."""
    statements = ["SET LOCAL session_replication_role = replica"]
    for table in tables:
        statements.append(f'DELETE FROM "{table}"')
        statements.append(f'INSERT INTO "{table}" SELECT * FROM {SCHEMA}."{table}"')
    async with engine.begin() as connection:
        raw = await connection.get_raw_connection()
        # asyncpg runs a script of several statements without parameters as one message.
        await raw.driver_connection.execute(";\n".join(statements))


async def drop(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
