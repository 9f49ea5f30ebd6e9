"""Background work that every hub process repeats: sweeping, pruning, linking, checkpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from hub.db.availability import is_database_unavailable

logger = logging.getLogger(__name__)


async def repeat(work: Callable[[], Awaitable[object]], interval: float, what: str) -> None:
    """Run ``work`` every ``interval`` seconds until cancelled. A failed round is logged and the
    work goes on: the next round may well succeed, and a background task must not die of one
    error (cancellation is not an ``Exception``, so it still ends the loop)."""
    while True:
        try:
            await work()
        except Exception as exc:
            if is_database_unavailable(exc):
                # The operator's to fix, and /readyz already says so: one line a round, not a
                # traceback a second while the database is down.
                logger.warning("%s failed: the database is unavailable (%s)", what, exc)
            else:
                logger.exception("%s failed", what)
        await asyncio.sleep(interval)
