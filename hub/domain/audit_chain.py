"""Linking audit events into the hash chain, after they commit (migration 0006).

A writing transaction inserts its audit events unlinked, so writers never wait for one another
on the chain. ``link_pending`` links every committed, unlinked event, one appender at a time
(the database's advisory lock): each hub process runs ``run_linker`` in the background, and
every read of the audit log links first, so what it reads is linked.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.periodic import repeat

logger = logging.getLogger(__name__)


async def link_pending(session: AsyncSession, *, wait: bool = True) -> int:
    """Link the committed, unlinked events; return how many were linked.

    The links commit in a transaction of their own, whatever the caller's session is doing
    (reads roll back, and a caller's transaction is the caller's to end). ``wait``: wait for
    another appender to finish (a reader needs everything linked); without it, leave the work
    to that appender and return 0 at once.
    """
    statement = select(func.audit_chain_pending(wait))
    bind = session.bind
    if isinstance(bind, AsyncEngine):
        async with bind.begin() as connection:
            linked = await connection.scalar(statement)
    else:  # a session on one connection: link in its transaction, which sees the links
        linked = await session.scalar(statement)
    return int(linked or 0)


async def run_linker(sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Link every ``interval`` seconds until cancelled; a failed round is logged and retried."""

    async def link() -> None:
        async with sessions() as session:
            await link_pending(session, wait=False)

    await repeat(link, interval, "linking audit events")
