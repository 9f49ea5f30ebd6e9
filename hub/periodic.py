"""Background work that every hub process repeats: sweeping, pruning, linking, checkpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def repeat(work: Callable[[], Awaitable[object]], interval: float, what: str) -> None:
    """Run ``work`` every ``interval`` seconds until cancelled. A failed round is logged and the
    work goes on: the next round may well succeed, and a background task must not die of one
    error (cancellation is not an ``Exception``, so it still ends the loop)."""
    while True:
        try:
            await work()
        except Exception:
            logger.exception("%s failed", what)
        await asyncio.sleep(interval)
