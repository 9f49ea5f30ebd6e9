"""The Starlette application: /graphql, the OAuth 2.0 server, health checks, and the database."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from functools import partial

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from hub.auth.bearer import Authenticator
from hub.auth.external import ExternalKeys, JwksFetcher, fetch_jwks
from hub.auth.keys import KeyRing, ensure_signing_key
from hub.auth.maintenance import run_pruner
from hub.auth.oauth.routes import oauth_routes
from hub.db import migrate
from hub.db.engine import autocommit_session_factory, create_engine, session_factory
from hub.db.listener import Listener, listen_dsn
from hub.db.location import resolve_database_url
from hub.domain import events
from hub.domain.audit_chain import run_linker
from hub.domain.change_checkpoints import run_checkpointer
from hub.domain.event_broker import EventBroker
from hub.domain.sweeper import run_sweeper
from hub.fast_path import FastPath
from hub.graphql_app import HubGraphQL
from hub.health import healthz, readyz
from hub.protocol.body_limit import BodyLimit
from hub.protocol.persisted_queries import PersistedQueries
from hub.protocol.refusals import http_exception
from hub.request_guard import RequestGuard
from hub.schema.caching import CACHING_EXTENSIONS
from hub.schema.disclosure import DISCLOSURE_EXTENSIONS
from hub.schema.limits import limit_extensions
from hub.schema.root import build_schema
from hub.secrets import id_hash_key, key_encryption_key
from hub.settings import Settings

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    jwks_fetcher: JwksFetcher = fetch_jwks,
    serving: bool = False,
) -> Starlette:
    """Build the application. Given an engine, it uses it and leaves its disposal to the caller.

    ``jwks_fetcher`` fetches external identity providers' public keys (tests pass their own).
    ``serving``: the application of a process that serves it until it stops (``hub serve``),
    whose objects at startup then stay out of the garbage collector's way (``_freeze``).
    """
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_engine = engine is None
        if engine is None:
            # Starting the embedded server blocks for a second or two: keep it off the loop.
            url = await asyncio.to_thread(resolve_database_url, settings)
            active = create_engine(
                url,
                pool_size=settings.db_pool_size,
                statement_timeout_seconds=settings.request_timeout_seconds,
                connect_timeout_seconds=settings.db_connect_timeout_seconds,
                # A request's deadline cancels its wait for a connection sooner; this bounds
                # the background tasks' waits, which have no deadline of their own.
                pool_timeout_seconds=settings.request_timeout_seconds,
            )
        else:
            active = engine
        app.state.settings = settings
        app.state.engine = active
        app.state.sessions = session_factory(active)
        app.state.autocommit_sessions = autocommit_session_factory(active)
        app.state.id_hash_key = await asyncio.to_thread(id_hash_key, settings)
        kek = await asyncio.to_thread(key_encryption_key, settings)
        try:
            if await migrate.is_at_head(active):
                async with app.state.sessions.begin() as session:
                    await ensure_signing_key(session, kek)
            else:
                logger.warning("the database is not migrated: no tokens until `hub migrate` runs")
        except (OSError, SQLAlchemyError):
            # Serve anyway: /readyz tells the orchestrator; the keys load once the database is up.
            logger.warning("the database is unreachable; signing keys will load later")
        app.state.keyring = KeyRing(
            app.state.sessions, kek, refresh_seconds=settings.signing_keys_refresh
        )
        app.state.authenticator = Authenticator(
            settings,
            app.state.autocommit_sessions,  # it only reads
            app.state.keyring,
            ExternalKeys(jwks_fetcher, refresh_seconds=settings.external_jwks_refresh),
        )
        app.state.persisted_queries = PersistedQueries(
            app.state.sessions, settings.persisted_documents_cache
        )
        app.state.event_broker = broker = EventBroker(settings.events_queue_size)
        app.state.event_listener = listener = Listener(
            listen_dsn(active.url.render_as_string(hide_password=False)),
            events.CHANNEL,
            on_notification=lambda payload: _publish(broker, payload),
            on_lost=broker.interrupt,
            on_listening=broker.resume,
            ping_seconds=settings.events_ping_seconds,
        )
        sessions = app.state.sessions
        # Each repeats at its interval; an interval of 0 turns it off.
        periodic = (
            ("claim-sweeper", settings.sweep_interval_seconds, partial(run_sweeper, sessions)),
            (
                "stale-row-pruner",
                settings.prune_interval_seconds,
                partial(run_pruner, sessions, settings),
            ),
            ("audit-linker", settings.audit_link_interval_seconds, partial(run_linker, sessions)),
            (
                "change-checkpointer",
                settings.change_checkpoint_interval_seconds,
                partial(run_checkpointer, sessions),
            ),
        )
        background = [
            asyncio.create_task(listener.run(), name="need-events-listener"),
            *(
                asyncio.create_task(run(interval), name=name)
                for name, interval, run in periodic
                if interval > 0
            ),
        ]
        if serving:
            _freeze()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if own_engine:
                await active.dispose()

    # The limits come first, so that the caches see their options and rules.
    schema = build_schema(
        [*limit_extensions(settings), *CACHING_EXTENSIONS, *DISCLOSURE_EXTENSIONS]
    )
    graphql = HubGraphQL(
        schema,
        settings=settings,
        graphql_ide="graphiql" if settings.is_dev else None,
    )
    return Starlette(
        routes=[
            Route("/graphql", FastPath(graphql, schema._schema), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *oauth_routes(),
        ],
        # One deadline per request, and JSON with a code for whatever escapes a handler; the
        # body limit inside it, so that an oversized body is refused as such, not logged as an
        # error first.
        middleware=[
            Middleware(RequestGuard, timeout_seconds=settings.request_timeout_seconds),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
        # An unknown path or a method a route does not take: JSON with a code, as everywhere.
        exception_handlers={HTTPException: http_exception},
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """The application as each of ``hub serve --workers``'s processes builds it: from the
    environment, which the command filled in before starting them."""
    return create_app(Settings.from_env(), serving=True)


def _freeze() -> None:
    """Move every object alive once the application has started (its modules, schema, engine,
    caches: some 400,000) out of the garbage collector's reach, for the life of the process.
    A full collection walked them all and stopped the worker, and every request it was
    serving, for about 140 ms, a few times a minute under load; what requests create is still
    collected as before. Collected first, so that no garbage is kept."""
    gc.collect()
    gc.freeze()


def _publish(broker: EventBroker, payload: str) -> None:
    event = events.NeedEvent.parse(payload)
    if event is not None:
        broker.publish(event)
