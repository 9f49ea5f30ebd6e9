"""Migration 0003 goes both ways, and chains the audit events written before it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from hub.db import migrate
from hub.db.engine import async_url
from tests.conftest import create_database, drop_database


@pytest.fixture
async def scratch(server_url: str) -> AsyncIterator[tuple[str, AsyncEngine]]:
    name = f"hub_migration_{uuid.uuid4().hex[:8]}"
    url = await create_database(server_url, name)
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    yield url, engine
    await engine.dispose()
    await drop_database(server_url, name)


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[object, ...]]:
    async with engine.connect() as connection:
        return [tuple(row) for row in (await connection.execute(text(sql))).all()]


async def test_upgrade_chains_old_events_and_downgrade_removes_everything(
    scratch: tuple[str, AsyncEngine],
) -> None:
    url, engine = scratch
    await migrate.upgrade(url, "0002")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_events (action, entity_type, entity_id, data)"
                " VALUES ('a', 't', '1', '{\"k\": 1}'), ('b', 't', '2', '{}')"
            )
        )
    await migrate.upgrade(url)
    chained = await rows(
        engine,
        "SELECT chain_seq, prev_hash = lag(hash, 1, repeat('0', 64)) OVER (ORDER BY chain_seq),"
        " hash = audit_event_digest(audit_events) FROM audit_events ORDER BY chain_seq",
    )
    assert chained == [(1, True, True), (2, True, True)]

    await migrate.downgrade(url, "0002")
    enums = {
        name for (name,) in await rows(engine, "SELECT typname FROM pg_type WHERE typtype = 'e'")
    }
    assert "need_status" in enums
    assert not enums & {"claim_status", "delivery_status"}
    functions = await rows(engine, "SELECT proname FROM pg_proc WHERE proname LIKE 'audit%'")
    assert functions == []
    assert await rows(engine, "SELECT count(*) FROM audit_events") == [(2,)]
    await migrate.upgrade(url)
    assert await rows(engine, "SELECT max(chain_seq) FROM audit_events") == [(2,)]
