"""Run the hub's async data access from authlib's synchronous hooks.

authlib calls its hooks from the worker thread the request handler started with
``anyio.to_thread.run_sync``; ``anyio.from_thread.run`` sends each query back to the event loop
and waits for it. The session is never used by two tasks at once: while the worker thread
waits, the handler that owns the session is itself waiting for the worker thread.

A ``Portal`` runs its queries in the request's one transaction. A ``LookupPortal`` runs each in
a session of its own, whose connection goes back to the pool as soon as the query is done: for
the lookups made before a client has authenticated, so that an attempt waiting for its secret's
hash (tens of milliseconds, longer under a burst) holds no connection that other requests need.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

import anyio.from_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

P = ParamSpec("P")
T = TypeVar("T")


class Portal:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def run(
        self,
        fn: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        async def call() -> T:
            return await fn(self.session, *args, **kwargs)

        return anyio.from_thread.run(call)


class LookupPortal:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    def run(
        self,
        fn: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        async def call() -> T:
            async with self.sessions() as session:
                return await fn(session, *args, **kwargs)

        return anyio.from_thread.run(call)
