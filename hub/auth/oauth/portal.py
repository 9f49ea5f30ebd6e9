"""Run the hub's async data access from authlib's synchronous hooks.

authlib calls its hooks from the worker thread the request handler started with
``anyio.to_thread.run_sync``; ``anyio.from_thread.run`` sends each query back to the event loop
and waits for it. The session is never used by two tasks at once: while the worker thread
waits, the handler that owns the session is itself waiting for the worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

import anyio.from_thread
from sqlalchemy.ext.asyncio import AsyncSession

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
