"""Alembic environment: migrates the database the hub is configured for.

The URL comes from the caller (``hub migrate``, the test suite) or, when Alembic's own command
line runs this, from HUB_DATABASE_URL or the embedded server. An advisory lock makes concurrent
hub processes that start together migrate one at a time.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from hub.db.engine import async_url
from hub.db.models import Base

MIGRATION_LOCK_KEY = 7_402_151_913  # arbitrary, fixed: one lock for all hub processes

target_metadata = Base.metadata


def configured_url() -> str:
    url = context.config.attributes.get("database_url")
    if url:
        return str(url)
    from hub.db.location import resolve_database_url
    from hub.settings import Settings

    return resolve_database_url(Settings.from_env())


def run_migrations_offline() -> None:
    context.configure(
        url=async_url(configured_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(async_url(configured_url()), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
