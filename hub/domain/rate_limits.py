"""Per-principal rate limits counted in operation cost, shared by every hub process.

The algorithm is GCRA, the generic cell rate algorithm (as redis-cell and the ``throttled``
library use it): each principal may spend ``cost_per_minute`` per minute, refilled continuously,
and may spend a whole minute's budget at once. One row per principal holds the moment its
spending so far would be paid off at the allowed rate; a request of cost ``c`` pushes that moment
``c`` units of time further, and is refused if that would put it more than a minute ahead of
now. Checking and spending is one atomic upsert, so concurrent requests in any number of
processes never admit more than the budget. A refused request spends nothing.

A row whose moment has passed means a full budget, the same as no row: ``hub prune`` deletes
such rows (hub/auth/maintenance.py), so they do not pile up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Boolean, Numeric, String, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.db import raw
from hub.domain.errors import DomainError

# The budget is per minute, and a whole minute's worth may be spent at once.
WINDOW_SECONDS = 60.0


class RateLimited(DomainError):
    code = "RATE_LIMITED"


@dataclass(frozen=True)
class Admission:
    admitted: bool
    # Seconds to wait before the same request would be admitted (0 when admitted).
    retry_after: int


def principal_key(principal: Principal | None, address: str | None) -> str:
    """Whose budget a request spends: the member's (whichever app they use), else the
    client's; anonymous requests share one budget per client address."""
    if principal is not None and principal.member_id is not None:
        return f"member:{principal.member_id}"
    if principal is not None and principal.client_id is not None:
        return f"client:{principal.client_id}"
    return f"address:{address or 'unknown'}"


# ``previous`` is read from the statement's snapshot, and serves only to say how long a refused
# caller should wait; the upsert itself re-reads the row under its lock, so admission is exact.
#
# The transaction commits without waiting for its WAL to reach the disk (``synchronous_commit``
# off, for this transaction only: ``set_config(..., true)`` is ``SET LOCAL``, here in the same
# statement rather than one more round trip). A crash of the database server may then lose the
# last fraction of a second of spending (at most three times ``wal_writer_delay``), which only
# gives those principals back a little budget: harmless, while every request, reads included,
# no longer waits for a disk flush. It never makes the database inconsistent. ``spend`` must
# therefore run in a transaction of its own, which its callers do.
_SPEND = text(
    """
WITH previous AS (
  SELECT paid_off_at FROM rate_limits WHERE key = :key
), spent AS (
  INSERT INTO rate_limits AS r (key, paid_off_at)
  VALUES (:key, statement_timestamp() + make_interval(secs => :charge))
  ON CONFLICT (key) DO UPDATE
    SET paid_off_at = greatest(r.paid_off_at, statement_timestamp())
                      + make_interval(secs => :charge)
    WHERE greatest(r.paid_off_at, statement_timestamp()) + make_interval(secs => :charge)
          <= statement_timestamp() + make_interval(secs => :window)
  RETURNING paid_off_at
)
SELECT
  EXISTS (SELECT 1 FROM spent) AS admitted,
  extract(epoch FROM (SELECT paid_off_at FROM previous) - statement_timestamp()) AS ahead,
  set_config('synchronous_commit', 'off', true) AS synchronous_commit
"""
).columns(admitted=Boolean, ahead=Numeric, synchronous_commit=String)


async def spend(session: AsyncSession, key: str, cost: int, cost_per_minute: int) -> Admission:
    """Spend ``cost`` from ``key``'s budget if it is there; say how long to wait if not.

    Call it in a transaction of its own, or in an autocommit session (where it is one statement,
    so a transaction of its own too, and runs on asyncpg directly): that transaction commits
    without waiting for the disk (see ``_SPEND``)."""
    charge = WINDOW_SECONDS * cost / cost_per_minute
    connection = await session.connection()
    values = {"key": key, "charge": charge, "window": WINDOW_SECONDS}
    (row,) = await raw.rows(connection, _SPEND, values)
    if row.admitted:
        return Admission(admitted=True, retry_after=0)
    ahead = float(row.ahead or 0.0)
    return Admission(admitted=False, retry_after=max(1, math.ceil(ahead + charge - WINDOW_SECONDS)))
