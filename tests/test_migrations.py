"""The schema comes only from migrations, and the migrations agree with the models."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from hub.db import migrate
from hub.db.models import Base
from tests.conftest import create_database, drop_database


async def test_upgrade_downgrade_and_models_agree(server_url: str) -> None:
    name = f"hub_migrations_{uuid.uuid4().hex[:8]}"
    url = await create_database(server_url, name)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        await migrate.upgrade(url)
        assert await migrate.is_at_head(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        assert differences == []

        await migrate.downgrade(url, "base")
        async with engine.connect() as connection:
            tables = (
                (
                    await connection.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                )
                .scalars()
                .all()
            )
            enum_types = (
                (await connection.execute(text("SELECT typname FROM pg_type WHERE typtype = 'e'")))
                .scalars()
                .all()
            )
        assert set(tables) == {"alembic_version"}
        assert enum_types == []
        assert not await migrate.is_at_head(engine)

        # And up again: a downgrade leaves nothing behind that would stop a fresh upgrade.
        await migrate.upgrade(url)
        assert await migrate.is_at_head(engine)
    finally:
        await engine.dispose()
        await drop_database(server_url, name)
