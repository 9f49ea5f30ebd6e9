"""The async engine and session factory, and turning a configured URL into one asyncpg accepts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

ASYNC_DRIVER = "postgresql+asyncpg"


def async_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` or ``postgresql+asyncpg://`` URLs."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the hub needs a PostgreSQL URL, not {parsed.drivername!r}")
    return parsed.set(drivername=ASYNC_DRIVER).render_as_string(hide_password=False)


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    statement_timeout_seconds: float | None = None,
    connect_timeout_seconds: float | None = None,
    pool_timeout_seconds: float | None = None,
) -> AsyncEngine:
    """``statement_timeout_seconds``: PostgreSQL cancels any statement of these connections
    that runs longer (the serving app's engine sets it; migrations and maintenance do not).
    ``connect_timeout_seconds``: a connection not opened by then fails (asyncpg waits a minute
    by default, and a stalled server answers nothing). ``pool_timeout_seconds``: the longest
    a checkout waits for a connection when all are in use (SQLAlchemy's default is 30 s)."""
    server_settings = {"application_name": "hub"}
    if statement_timeout_seconds is not None:
        server_settings["statement_timeout"] = str(max(1, round(statement_timeout_seconds * 1000)))
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if connect_timeout_seconds is not None:
        connect_args["timeout"] = connect_timeout_seconds
    pool_options: dict[str, Any] = {}
    if pool_timeout_seconds is not None:
        pool_options["pool_timeout"] = pool_timeout_seconds
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        # No connections beyond the pool for a burst: the pool closed each as it came back, so
        # every burst opened them again (a server process, asyncpg's type lookups, every
        # statement prepared anew). Requests beyond the pool wait for a connection instead.
        max_overflow=0,
        # Server-side timeouts keep a stuck statement from holding a connection forever.
        connect_args=connect_args,
        **pool_options,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: object, _proxy: object) -> None:
    """Hand out no connection the server has closed (a restart, a failover, an administrator's
    ``pg_terminate_backend``): the pool then replaces it before anyone uses it.

    This stands in for SQLAlchemy's ``pool_pre_ping``, whose asyncpg ping is three round trips
    (BEGIN, an empty statement, ROLLBACK) on every checkout: on a page of needs that was nine of
    its 21 round trips. A server that goes away closes its connections' sockets, and asyncpg
    notices it as soon as the event loop reads the close, so asking asyncpg costs nothing. A
    connection lost without a word (a network cut) is found by its first statement instead, and
    SQLAlchemy then invalidates every older connection of the pool at once."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the database server closed this connection")


def driver_dsn(engine: AsyncEngine) -> str:
    """The engine's URL as asyncpg itself takes it (without SQLAlchemy's driver name), for the
    connections the hub opens outside the pool."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def autocommit_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions in which every statement is its own transaction: no BEGIN before the first
    statement, no COMMIT or ROLLBACK after the last, two round trips fewer per session.

    Only for reads, and for writes that are one statement each. PostgreSQL's default isolation
    (READ COMMITTED) gives every statement of a transaction its own snapshot anyway, so a
    session of several reads sees what it would have seen in one transaction; but a session
    that writes twice here would not write atomically. Same pool as ``session_factory``'s."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"),
        expire_on_commit=False,
        autoflush=False,
    )


MINIMUM_SERVER_VERSION = 150000  # PostgreSQL 15: the oldest release the hub is tested on


class UnsupportedServer(RuntimeError):
    pass


def check_server_version(version_num: int) -> None:
    if version_num < MINIMUM_SERVER_VERSION:
        major = version_num // 10000
        raise UnsupportedServer(f"the hub needs PostgreSQL 15 or newer; this server is {major}")


async def ensure_supported_server(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        version = await connection.scalar(text("SHOW server_version_num"))
    check_server_version(int(version))
