"""What failed client authentication costs a running hub, and what a burst of it costs others.

``python -m bench.client_auth --hub-url URL`` against a hub serving a benchmark database
(``python -m bench seed``: its clients' secrets are hashed at production cost). It prints, in
milliseconds: a GraphQL request's latency at rest; one wrong secret; one unknown client id; the
same GraphQL request while 30 wrong secrets for one client arrive at once; and an attempt
refused by the throttle. Run it on a fresh hub (the throttle's budgets start full).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from bench.seed import CLIENT_SECRET

VIEWER = {"query": "{ viewer { clientId } }"}
FORM = {"grant_type": "client_credentials"}


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[float, int]:
    started = time.perf_counter()
    response = await call()
    return (time.perf_counter() - started) * 1000, response.status_code


def summary(label: str, samples: list[tuple[float, int]]) -> None:
    spent = sorted(ms for ms, _ in samples)
    statuses = sorted({status for _, status in samples})
    p95 = spent[min(len(spent) - 1, round(0.95 * (len(spent) - 1)))]
    print(
        f"{label:<44} n={len(spent):<3} median {statistics.median(spent):7.1f} ms"
        f"  p95 {p95:7.1f} ms  max {spent[-1]:7.1f} ms  statuses {statuses}"
    )


async def main(hub_url: str, burst: int) -> None:
    async with httpx.AsyncClient(base_url=hub_url, timeout=120) as http:
        token = await http.post("/oauth/token", data=FORM, auth=("bench-ngo", CLIENT_SECRET))
        token.raise_for_status()
        bearer = {"authorization": f"Bearer {token.json()['access_token']}"}

        def probe() -> Awaitable[httpx.Response]:
            return http.post("/graphql", json=VIEWER, headers=bearer)

        def wrong(client_id: str) -> Callable[[], Awaitable[httpx.Response]]:
            return lambda: http.post("/oauth/token", data=FORM, auth=(client_id, "wrong-secret"))

        for _ in range(5):
            await probe()  # warm up
        summary("GraphQL request, at rest", [await timed(probe) for _ in range(30)])
        summary("wrong secret", [await timed(wrong("bench-storm-00")) for _ in range(8)])
        summary(
            "unknown client id",
            [await timed(wrong(f"no-such-client-{n}")) for n in range(8)],
        )

        attempts = asyncio.gather(*(timed(wrong("bench-storm-01")) for _ in range(burst)))
        task = asyncio.ensure_future(attempts)
        during = []
        started = time.perf_counter()
        while not task.done():
            during.append(await timed(probe))
        took = (time.perf_counter() - started) * 1000
        summary(f"GraphQL request, during {burst} wrong secrets", during)
        summary(f"the {burst} wrong secrets (all at once)", await task)
        print(f"{'the burst lasted':<44} {took:.0f} ms")
        summary(
            "further wrong secrets for that client",
            [await timed(wrong("bench-storm-01")) for _ in range(10)],
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.client_auth")
    parser.add_argument("--hub-url", required=True)
    parser.add_argument("--burst", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.hub_url, args.burst))
