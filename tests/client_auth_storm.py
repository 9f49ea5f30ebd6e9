"""One process of the shared client-throttle test: a hub application of its own (its own pool),
sent wrong secrets for one client, all at once.

Run as ``python -m tests.client_auth_storm DATABASE_URL DATA_DIR CLIENT_ID ATTEMPTS LIMIT``; it
waits for a ``go`` line on stdin (so that all processes fire together), then prints how many
attempts were checked (401) and how many refused by the throttle (429), e.g. ``4 16``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from hub.app import create_app
from hub.db.engine import create_engine
from hub.settings import Settings


async def main(url: str, data_dir: str, client_id: str, attempts: int, limit: int) -> None:
    engine = create_engine(url, pool_size=4)
    settings = Settings(
        env="dev",
        data_dir=Path(data_dir),
        id_hash_key="test-id-hash-key",
        key_encryption_key="test-key-encryption-key",
        password_hash_time_cost=1,
        password_hash_memory_kib=8192,
        sweep_interval_seconds=0,
        prune_interval_seconds=0,
        audit_link_interval_seconds=0,
        change_checkpoint_interval_seconds=0,
        client_auth_max_failures_per_client=limit,
    )
    app = create_app(settings, engine=engine)
    try:
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("10.9.8.7", 4000)),
                base_url="http://hub.test",
            ) as http,
        ):
            # Warm up (a connection, the signing keys), so that the race is one of attempts.
            await http.get("/.well-known/jwks.json")
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/oauth/token",
                        data={"grant_type": "client_credentials"},
                        auth=(client_id, "wrong-secret"),
                    )
                    for _ in range(attempts)
                )
            )
    finally:
        await engine.dispose()
    statuses = [response.status_code for response in responses]
    print(statuses.count(401), statuses.count(429), flush=True)


if __name__ == "__main__":
    url, data_dir, client_id, attempts, limit = sys.argv[1:6]
    asyncio.run(main(url, data_dir, client_id, int(attempts), int(limit)))
