"""Checkpoints of the change feed: where its first page may start for a given time.

``needs(orderBy: CHANGED, filter: {changedSince: T})`` pages by ``Need.change_xid`` (see
``hub.domain.needs``) but is asked for a time. Each hub process records, every
HUB_CHANGE_CHECKPOINT_INTERVAL_SECONDS, a row (``at``, ``xid``): ``at`` a time by the database's
clock, ``xid`` the ``pg_snapshot_xmin`` of a snapshot taken before ``at``. The first page starts
at the ``xid`` of the latest checkpoint at or before T: one index lookup, whatever the window.

Why it is a lower bound (nothing changed after T sorts below it): take a need whose
``updated_at`` is after T, last written by transaction W, and a checkpoint with ``at`` <= T. If W's
id were below the checkpoint's ``xid``, the xmin of its snapshot, W had ended before that snapshot
was taken (xmin is the oldest transaction still running; every id below it has committed or
rolled back, and ids are never given out again). W stamped ``updated_at`` before it committed, so
before the snapshot, which ``clock_timestamp()`` in the same statement follows: ``updated_at`` <
``at`` <= T, a contradiction. So W's id is at least ``xid``, and so is the need's
``change_xid``. This holds for a transaction that took its id long before the checkpoint and
writes after it: it was still running at the snapshot, so xmin is at most its id. A
``pg_current_xact_id()`` taken at checkpoint time would not be a bound: such a transaction's id
lies below it. The argument reads ``updated_at`` (a hub process's clock, or the database's) and
``at`` (the database's) on one clock. A need stamped by a process whose clock runs ahead, after
T, but committed before the checkpoint can sort below the bound and be left out: its change
happened before T by the database's clock. ``changedSince`` is approximate in that way already
(README: start a new reader with a margin); the cursors, which are exact, do not depend on it.

Checkpoints are kept: all of the last day, then the first of each hour, a few thousand rows a
year. A time before the first checkpoint falls back to the pass over the window.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import ChangeCheckpoint
from hub.periodic import repeat

logger = logging.getLogger(__name__)

# Any constant will do, as long as nothing else in the hub takes the same advisory lock.
CHECKPOINT_LOCK = 0x6875_6263  # "hubc"

# Every checkpoint of the last day is kept; older ones only the first of each hour.
KEEP_ALL_FOR = timedelta(days=1)

# One statement: the snapshot is taken when it starts, clock_timestamp() read as it runs, later.
# Skipped when another process has recorded one within half the interval, so that several
# processes record about one per interval between them.
_RECORD = text(
    """
INSERT INTO change_checkpoints (at, xid)
SELECT clock_timestamp(), pg_snapshot_xmin(pg_current_snapshot())::text::bigint
WHERE NOT EXISTS (
  SELECT 1 FROM change_checkpoints
  WHERE at > clock_timestamp() - make_interval(secs => :spacing)
)
ON CONFLICT (at) DO NOTHING
"""
)

_THIN = text(
    """
DELETE FROM change_checkpoints AS old
WHERE old.at < now() - make_interval(secs => :keep_all_for)
  AND EXISTS (
    SELECT 1 FROM change_checkpoints AS earlier
    WHERE earlier.at >= date_trunc('hour', old.at) AND earlier.at < old.at
  )
"""
)


async def record_checkpoint(session: AsyncSession, interval: float) -> bool:
    """Record a checkpoint unless one was recorded within half ``interval`` seconds, and thin
    out old ones. Commits; whether a checkpoint was recorded."""
    # Serialises the processes, so that the second sees the first's row.
    await session.execute(select(func.pg_advisory_xact_lock(CHECKPOINT_LOCK)))
    recorded = await session.execute(_RECORD, {"spacing": interval / 2})
    await session.execute(_THIN, {"keep_all_for": KEEP_ALL_FOR.total_seconds()})
    await session.commit()
    return bool(getattr(recorded, "rowcount", 0))


async def run_checkpointer(sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Record a checkpoint every ``interval`` seconds until cancelled; a failed round is logged
    and retried."""

    async def record() -> None:
        async with sessions() as session:
            await record_checkpoint(session, interval)

    await repeat(record, interval, "recording a change-feed checkpoint")


def checkpoint_at_or_before(since: datetime) -> Any:
    """The ``xid`` of the latest checkpoint at or before ``since``, as a scalar subquery (NULL
    when there is none): one lookup of the primary key's index."""
    return (
        select(ChangeCheckpoint.xid)
        .where(ChangeCheckpoint.at <= since)
        .order_by(ChangeCheckpoint.at.desc())
        .limit(1)
        .scalar_subquery()
    )
