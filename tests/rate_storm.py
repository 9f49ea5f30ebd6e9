"""One process of the shared-budget test: spends from one principal's rate limit as fast as it
can, all attempts at once, on its own connection pool.

Run as ``python -m tests.rate_storm DATABASE_URL KEY COST PER_MINUTE ATTEMPTS``; it waits for a
``go`` line on stdin (so that all processes fire together), then prints how many were admitted.
"""

from __future__ import annotations

import asyncio
import sys

from hub.db.engine import create_engine, session_factory
from hub.domain import rate_limits


async def main(url: str, key: str, cost: int, per_minute: int, attempts: int) -> None:
    engine = create_engine(url, pool_size=4)
    sessions = session_factory(engine)

    async def attempt() -> bool:
        async with sessions.begin() as session:
            return (await rate_limits.spend(session, key, cost, per_minute)).admitted

    try:
        # Connect before the start, so that the race is one of spending, not of logins.
        async with engine.connect():
            pass
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        admitted = await asyncio.gather(*(attempt() for _ in range(attempts)))
    finally:
        await engine.dispose()
    print(sum(admitted), flush=True)


if __name__ == "__main__":
    url, key, cost, per_minute, attempts = sys.argv[1:6]
    asyncio.run(main(url, key, int(cost), int(per_minute), int(attempts)))
