"""One process of the concurrent-claims test: its own hub application and connection pool,
firing a share of the claim attempts all at once.

Run as ``python -m tests.claim_storm DATABASE_URL DATA_DIR``. It reads its attempts as one JSON
line on stdin, builds the app, prints ``ready``, waits for a ``go`` line (so that all processes
fire together), then prints one JSON line: the answer to every attempt.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.settings import Settings

CLAIM = """
mutation($input: ClaimNeedInput!, $key: String!) {
  claimNeed(input: $input, idempotencyKey: $key) {
    __typename
    ... on ClaimNeedSuccess { claim { id } }
    ... on AlreadyClaimed { until holder { id } }
    ... on OverPledged { remaining }
  }
}
"""


async def attempt(client: httpx.AsyncClient, plan: dict[str, Any]) -> dict[str, Any]:
    claim_input: dict[str, Any] = {"needId": plan["need"]}
    if plan.get("quantity") is not None:
        claim_input["quantity"] = plan["quantity"]
    response = await client.post(
        "/graphql",
        json={"query": CLAIM, "variables": {"input": claim_input, "key": plan["key"]}},
        headers={"X-Hub-Dev-Member": plan["login"]},
    )
    body = response.json()
    answer: dict[str, Any] = {"id": plan["id"], "status": response.status_code}
    if body.get("errors"):
        answer["errors"] = [e.get("extensions", {}).get("code") for e in body["errors"]]
        return answer
    result = body["data"]["claimNeed"]
    answer["type"] = result["__typename"]
    if answer["type"] == "ClaimNeedSuccess":
        answer["claim"] = result["claim"]["id"]
    return answer


IN_FLIGHT = 16  # per process: as many as the pool holds (8 connections and 8 in bursts)


async def line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


async def _open_pool(engine: AsyncEngine, connections: int) -> None:
    """Open ``connections`` of the pool at once (/readyz uses none of the pool's)."""
    held = [await engine.connect() for _ in range(connections)]
    for connection in held:
        await connection.execute(text("SELECT 1"))
        await connection.close()


async def main(database_url: str, data_dir: str) -> None:
    attempts = json.loads(await line())
    settings = Settings(
        env="dev",
        database_url=database_url,
        data_dir=Path(data_dir),
        id_hash_key="storm",
        db_pool_size=8,
        sweep_interval_seconds=0,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://hub.test", timeout=120
        ) as client,
    ):
        # Open the pool's connections before the start, so that the race is not one of logins.
        await _open_pool(app.state.engine, 8)
        print("ready", flush=True)
        assert (await line()).strip() == "go"
        # A server admits a bounded number of requests at once (as uvicorn's limit-concurrency
        # would); without a gate, every attempt would queue for the pool at the same instant
        # and, on a busy machine, time out there rather than race in the database.
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def gated(plan: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                return await attempt(client, plan)

        started = time.perf_counter()
        answers = await asyncio.gather(*(gated(plan) for plan in attempts))
        elapsed = time.perf_counter() - started
    print(json.dumps({"elapsed": elapsed, "answers": answers}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
