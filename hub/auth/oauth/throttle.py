"""Limits on failed client authentication, shared by every hub process.

Checking a client secret costs an argon2 verification (tens of milliseconds of a core and tens
of megabytes), so wrong secrets sent without limit would starve every other request. Each
attempt is therefore admitted before anything is checked, against three budgets of failures
within HUB_CLIENT_AUTH_WINDOW, as the sign-in limits are counted: of the claimed client from
this address, of the claimed client from all addresses (much higher), and of this address. An
attempt that authenticates gives back what it took, so only failures use the budgets up.

Taking from the budget *before* the check, rather than counting failures after it, is what
makes a parallel burst safe: thirty wrong secrets sent at once cannot all pass a count that
none of them has added to yet. A refused attempt costs one statement and no hashing.

The budgets are GCRA cells in the ``rate_limits`` table (see hub/domain/rate_limits.py): a
budget of ``n`` failures per window ``w`` refills one failure every ``w / n`` seconds and may be
spent all at once. One statement takes from all three, atomically per budget; if any of them is
exhausted, what the others gave is given back.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import ARRAY, Boolean, Float, Numeric, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.settings import Settings

# Longer (or odd) client ids and addresses are named by a digest, so a key always fits its column.
_MAX_PART = 100


@dataclass(frozen=True)
class Attempt:
    """Who tries to authenticate: the client it claims to be (None when a garbled assertion
    names none), and the address it comes from (None when the transport gives none)."""

    client_id: str | None
    address: str | None


@dataclass(frozen=True)
class Admission:
    admitted: bool
    # Seconds until the attempt would be admitted (0 when it was).
    retry_after: int


def _part(value: str | None) -> str:
    if value is None:
        return "?"
    if len(value) <= _MAX_PART and value.isprintable():
        return value
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def budgets(settings: Settings, attempt: Attempt) -> dict[str, float]:
    """Each budget the attempt draws on, and what one failure costs it in seconds of refill."""
    window = settings.client_auth_window
    address = _part(attempt.address)
    costs = {
        f"client-auth:address:{address}": window / settings.client_auth_max_failures_per_address
    }
    if attempt.client_id is not None:
        client = _part(attempt.client_id)
        costs[f"client-auth:client:{client}"] = (
            window / settings.client_auth_max_failures_per_client_total
        )
        costs[f"client-auth:client:{client}:address:{address}"] = (
            window / settings.client_auth_max_failures_per_client
        )
    return costs


# Rows are taken in key order, so that two statements wanting the same budgets lock them in the
# same order and never deadlock. As in rate_limits.spend, the row is re-read under its lock by
# the upsert, so admission is exact; ``previous`` (the statement's snapshot) only says how long
# a refused attempt should wait. Committed without waiting for the disk: a crash of the database
# server may forget the last fraction of a second of failures, which only gives a little budget
# back.
_TAKE = (
    text(
        """
WITH wanted AS (
  SELECT key, charge
  FROM unnest(CAST(:keys AS text[]), CAST(:charges AS float8[])) AS w(key, charge)
), previous AS (
  SELECT key, paid_off_at FROM rate_limits WHERE key = ANY(CAST(:keys AS text[]))
), taken AS (
  INSERT INTO rate_limits AS r (key, paid_off_at)
  SELECT key, statement_timestamp() + make_interval(secs => charge) FROM wanted ORDER BY key
  ON CONFLICT (key) DO UPDATE
    SET paid_off_at = greatest(r.paid_off_at, statement_timestamp())
                      + (excluded.paid_off_at - statement_timestamp())
    WHERE greatest(r.paid_off_at, statement_timestamp())
          + (excluded.paid_off_at - statement_timestamp())
          <= statement_timestamp() + make_interval(secs => :window)
  RETURNING key
)
SELECT
  w.key,
  EXISTS (SELECT 1 FROM taken t WHERE t.key = w.key) AS admitted,
  extract(epoch FROM p.paid_off_at - statement_timestamp()) + w.charge - :window AS wait,
  set_config('synchronous_commit', 'off', true) AS synchronous_commit
FROM wanted w LEFT JOIN previous p ON p.key = w.key
"""
    )
    .bindparams(
        bindparam("keys", type_=ARRAY(String)),
        bindparam("charges", type_=ARRAY(Float)),
        bindparam("window", type_=Float),
    )
    .columns(key=String, admitted=Boolean, wait=Numeric, synchronous_commit=String)
)

# A budget paid off by what is given back is the same as no row at all: deleted, so that a
# client that authenticates leaves nothing behind. The two parts see one snapshot, and their
# conditions exclude each other, so no row is both deleted and updated.
_GIVE_BACK = text(
    """
WITH given AS (
  SELECT key, charge
  FROM unnest(CAST(:keys AS text[]), CAST(:charges AS float8[])) AS g(key, charge)
), paid_off AS (
  DELETE FROM rate_limits AS r USING given AS g
  WHERE r.key = g.key AND r.paid_off_at - make_interval(secs => g.charge) <= statement_timestamp()
)
UPDATE rate_limits AS r SET paid_off_at = r.paid_off_at - make_interval(secs => g.charge)
FROM given AS g
WHERE r.key = g.key AND r.paid_off_at - make_interval(secs => g.charge) > statement_timestamp()
"""
).bindparams(bindparam("keys", type_=ARRAY(String)), bindparam("charges", type_=ARRAY(Float)))


async def admit(session: AsyncSession, settings: Settings, attempt: Attempt) -> Admission:
    """Take one failure from each of the attempt's budgets, or from none and say how long to
    wait. Call it in an autocommit session (each statement its own transaction)."""
    costs = budgets(settings, attempt)
    keys = sorted(costs)
    rows = (
        await session.execute(
            _TAKE,
            {
                "keys": keys,
                "charges": [costs[key] for key in keys],
                "window": float(settings.client_auth_window),
            },
        )
    ).all()
    refused = [row for row in rows if not row.admitted]
    if not refused:
        return Admission(admitted=True, retry_after=0)
    taken = [row.key for row in rows if row.admitted]
    if taken:
        await _give_back(session, {key: costs[key] for key in taken})
    wait = max(float(row.wait or 0.0) for row in refused)
    return Admission(admitted=False, retry_after=max(1, math.ceil(wait)))


async def forgive(session: AsyncSession, settings: Settings, attempt: Attempt) -> None:
    """Give back what an attempt that authenticated took: only failures count."""
    await _give_back(session, budgets(settings, attempt))


async def _give_back(session: AsyncSession, costs: dict[str, float]) -> None:
    keys = sorted(costs)
    await session.execute(_GIVE_BACK, {"keys": keys, "charges": [costs[key] for key in keys]})
