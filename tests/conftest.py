"""Test fixtures: one real PostgreSQL per test session, emptied before every test.

By default the suite starts the embedded server in a temporary directory, as `hub demo` would.
With HUB_TEST_DATABASE_URL (a server's maintenance database, e.g.
postgresql://postgres@127.0.0.1:5432/postgres) it creates a fresh database on that server
instead, and drops it afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.applications import Starlette

from hub.app import create_app
from hub.db import migrate
from hub.db.embedded import embedded_url, ensure_server_os_user
from hub.db.engine import async_url, create_engine
from hub.domain import identity
from hub.settings import Settings
from tests.auth import Tokens
from tests.db_state import truncate
from tests.graphql import GraphQLClient
from tests.world import World, build_world


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller, before it starts any test process
        # Run as root, the embedded server runs as an operating-system user made on first use:
        # made here, once, rather than by every test process at the same moment.
        ensure_server_os_user()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A maintenance-database URL of the server the tests run against."""
    configured = os.environ.get("HUB_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = Path(tempfile.mkdtemp(prefix="hub-test-"))
    try:
        yield embedded_url(data_dir, database="postgres")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def create_database(server: str, name: str) -> str:
    admin = create_async_engine(async_url(server), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(async_url(server)).set(database=name).render_as_string(hide_password=False)


async def drop_database(server: str, name: str) -> None:
    admin = create_async_engine(async_url(server), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A database migrated to head, private to this test session."""
    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    url = await create_database(server_url, name)
    await migrate.upgrade(url)
    yield url
    await drop_database(server_url, name)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> None:
    """Every test that touches the database starts from empty tables."""
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    async with engine.begin() as connection:
        tables = (
            await connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                )
            )
        ).scalars()
        names = ", ".join(f'"{name}"' for name in tables)
        if names:
            await truncate(connection, names)


TEST_SETTINGS = {
    "id_hash_key": "test-id-hash-key",
    "key_encryption_key": "test-key-encryption-key",
    # argon2 stays argon2, at a cost that keeps the suite fast.
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 1024,
    # No background sweeper: tests that need one start it themselves, so expiry stays explicit.
    "sweep_interval_seconds": 0,
    "prune_interval_seconds": 0,
    # Nor a background audit linker, whose statements would land in other tests' statement
    # counts: reads of the audit log link first, and tests/test_audit.py runs the linker itself.
    "audit_link_interval_seconds": 0,
    # Nor change-feed checkpoints: tests/test_change_checkpoints.py records them itself.
    "change_checkpoint_interval_seconds": 0,
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="dev", data_dir=tmp_path, **TEST_SETTINGS)  # type: ignore[arg-type]


@pytest.fixture
def external_jwks() -> dict[str, dict[str, Any]]:
    """JWKS documents of external identity providers, by URL, served without a network."""
    return {}


@pytest.fixture
async def app(
    engine: AsyncEngine, settings: Settings, external_jwks: dict[str, dict[str, Any]]
) -> AsyncIterator[Starlette]:
    async def fetch(uri: str) -> dict[str, Any]:
        return external_jwks[uri]

    application = create_app(settings, engine=engine, jwks_fetcher=fetch)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
    ) as client:
        yield client


@pytest.fixture
async def gql(http: httpx.AsyncClient, tokens: Tokens) -> GraphQLClient:
    client = GraphQLClient(http, tokens)
    await client.sign_in_everyone()
    return client


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await build_world(engine)


@pytest.fixture
def tokens(app: Starlette, engine: AsyncEngine, world: World, settings: Settings) -> Tokens:
    return Tokens(app, engine, world, settings)


@pytest.fixture(autouse=True)
async def every_identity_read_is_recorded(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """Across the whole suite: each identity handed out wrote exactly one access record."""
    if "engine" not in request.fixturenames:
        yield
        return
    handed_out = 0
    original = identity.read_identities

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal handed_out
        found = await original(*args, **kwargs)
        handed_out += len(found)
        return found

    monkeypatch.setattr(identity, "read_identities", counting)
    yield
    engine: AsyncEngine = request.getfixturevalue("engine")
    async with engine.connect() as connection:
        recorded = (await connection.execute(text("SELECT count(*) FROM access_records"))).scalar()
    assert recorded == handed_out, f"{handed_out} identities read, {recorded} access records"


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A data directory for a hub that starts its own PostgreSQL.

    Not under pytest's tmp_path: when the hub runs as root, PostgreSQL runs as an unprivileged
    user who must be able to reach the directory, and pytest keeps its temporary root private.
    """
    path = Path(tempfile.mkdtemp(prefix="hub-data-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
