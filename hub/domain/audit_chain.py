"""Linking audit events into the hash chain, after they commit (migration 0006).

A writing transaction inserts its audit events unlinked, so writers never wait for one another
on the chain. ``link_pending`` links every committed, unlinked event, one appender at a time
(the database's advisory lock): each hub process runs ``run_linker`` in the background, and
every read of the audit log links first, so what it reads is linked.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)


async def link_pending(session: AsyncSession, *, wait: bool = True) -> int:
    """Link the committed, unlinked events and commit; return how many were linked.

    ``wait``: wait for another appender to finish (a reader needs everything linked); without
    it, leave the work to that appender and return 0 at once.
    """
    linked = await session.scalar(select(func.audit_chain_pending(wait)))
    await session.commit()
    return int(linked or 0)


async def run_linker(sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Link every ``interval`` seconds until cancelled; a failed round is logged and retried."""
    while True:
        try:
            async with sessions() as session:
                await link_pending(session, wait=False)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round may well succeed: the linker never dies of one error
            logger.exception("linking audit events failed")
        await asyncio.sleep(interval)
