"""Drive HTTP load at fixed concurrency against hub processes and write a JSON report.

Unless given ``--hub-url``, the run starts its own hub: by default one ``hub serve --workers 2``,
the production configuration (``--processes N`` starts N of them on free loopback ports, the
requests spread over them round-robin as a load balancer would), and the floor
(``bench.floor``), all against the seeded database, and stops them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import psutil

from bench import scenarios
from bench.seed import CLIENT_SECRET, ID_HASH_KEY, KEY_ENCRYPTION_KEY

SCENARIO_CONCURRENCY = {"claim_storm": scenarios.STORM_CLIENTS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Processes:
    hub_urls: list[str]
    hubs: list[psutil.Process] = field(default_factory=list)
    floor_url: str | None = None
    floor: psutil.Process | None = None
    peak_rss: dict[int, int] = field(default_factory=dict)

    def sample_rss(self) -> None:
        """Each hub process's resident memory: a ``hub serve --workers`` supervisor and each of
        its workers count as processes of their own."""
        for parent in self.hubs:
            with contextlib.suppress(psutil.Error):
                for process in (parent, *parent.children()):
                    with contextlib.suppress(psutil.Error):
                        rss = process.memory_info().rss
                        self.peak_rss[process.pid] = max(self.peak_rss.get(process.pid, 0), rss)


def _cpu_seconds(roots: list[psutil.Process]) -> float:
    """User and system CPU time of these processes and their children so far."""
    total = 0.0
    for root in roots:
        with contextlib.suppress(psutil.Error):
            for process in (root, *root.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
    return total


def _database_cpu_seconds(database: str) -> dict[int, float]:
    """CPU time so far of each PostgreSQL backend serving ``database`` (a backend's title
    names its database), by process id: backends of other databases, which other work on
    the machine may be using, are not counted, nor autovacuum's workers, whose work comes when
    it comes (after a storm, say) rather than with each request."""
    spent = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(process.info["cmdline"] or ())
        if "autovacuum" in title:
            continue
        if process.info["name"] == "postgres" and f" {database} " in f"{title} ":
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                spent[process.pid] = times.user + times.system
    return spent


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


class CpuMeter:
    """CPU time spent per request by the server under test, PostgreSQL and this load driver.

    Unlike requests per second, the CPU a request costs hardly depends on what else the
    machine runs at the time, so it compares runs taken under different loads."""

    def __init__(self, servers: list[psutil.Process], database: str) -> None:
        self.servers = servers
        self.database = database
        self.start = self._now()

    def _now(self) -> tuple[float, dict[int, float], float]:
        driver = psutil.Process().cpu_times()
        return (
            _cpu_seconds(self.servers),
            _database_cpu_seconds(self.database),
            driver.user + driver.system,
        )

    def per_request_ms(self, requests: int) -> dict[str, float]:
        servers, backends, driver = self._now()
        # A backend that began during the run counts from zero; one that ended is lost.
        database = sum(spent - self.start[1].get(pid, 0.0) for pid, spent in backends.items())
        spent = (servers - self.start[0], database, driver - self.start[2])
        per = [round(seconds * 1000 / max(requests, 1), 2) for seconds in spent]
        return {"server": per[0], "database": per[1], "driver": per[2]}


def hub_environment(database_url: str, issuer: str, data_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_ID_HASH_KEY": ID_HASH_KEY,
        "HUB_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
        "HUB_ISSUER": issuer,
        "HUB_DATA_DIR": data_dir,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_ENV": "prod",
        # One client stands for many apps here, and the benchmark measures throughput: its
        # rate limit must not be what it measures (the upsert that counts it still runs).
        "HUB_RATE_LIMIT_COST_PER_MINUTE": "1000000000",
    }


@contextlib.contextmanager
def started(args: argparse.Namespace) -> Iterator[Processes]:
    if args.hub_url:
        yield Processes(hub_urls=list(args.hub_url))
        return
    popen: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as data_dir:
        ports = [free_port() for _ in range(args.processes)]
        issuer = f"http://127.0.0.1:{ports[0]}"
        env = hub_environment(args.database_url, issuer, data_dir)
        log = open(Path(data_dir) / "processes.log", "ab")  # noqa: SIM115
        try:
            processes = Processes(hub_urls=[f"http://127.0.0.1:{port}" for port in ports])
            for port, url in zip(ports, processes.hub_urls, strict=True):
                command = [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)]
                command += ["--workers", str(args.workers)]
                popen.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
                # One at a time: the first creates the signing key the others then read.
                wait_ready(f"{url}/readyz", popen[-1])
                processes.hubs.append(psutil.Process(popen[-1].pid))
            floor_port = free_port()
            popen.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "bench.floor:app",
                        "--port",
                        str(floor_port),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    env={**env, "BENCH_DATABASE_URL": args.database_url},
                    stdout=log,
                    stderr=log,
                )
            )
            processes.floor_url = f"http://127.0.0.1:{floor_port}"
            processes.floor = psutil.Process(popen[-1].pid)
            wait_ready(f"{processes.floor_url}/needs?county=00", popen[-1], status=None)
            yield processes
        except BaseException:
            log.flush()
            print((Path(data_dir) / "processes.log").read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            for process in popen:
                process.terminate()
            for process in popen:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            log.close()


def wait_ready(url: str, process: subprocess.Popen[bytes], status: int | None = 200) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited ({process.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, timeout=2)
            if status is None or response.status_code == status:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


async def token_for(client: httpx.AsyncClient, hub_url: str, client_id: str) -> str:
    """An access token from the hub's own token endpoint, as a real integration gets one."""
    response = await client.post(
        f"{hub_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, CLIENT_SECRET),
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def find_targets(database_url: str) -> scenarios.Targets:
    connection = await asyncpg.connect(database_url)
    try:
        grants = await connection.fetch(
            "SELECT c.client_id, g.jurisdiction FROM role_grants g "
            "JOIN oauth_clients c ON c.id = g.oauth_client_id WHERE c.client_id LIKE 'bench-%'"
        )
        readers = [g["jurisdiction"] for g in grants if g["client_id"] != "bench-gov"]
        province = next(g["jurisdiction"] for g in grants if g["client_id"] == "bench-gov")
        counties = await connection.fetch(
            "SELECT left(region_code, 6) AS county, count(*) AS open FROM needs "
            "WHERE status = 'open' GROUP BY 1 ORDER BY 2 DESC"
        )
        county = next(
            row["county"]
            for row in counties
            if all(row["county"].startswith(prefix) for prefix in readers)
            and row["county"].startswith(province)
        )
        upper = county[:-1] + chr(ord(county[-1]) + 1)
        children = await connection.fetch(
            "SELECT id FROM children WHERE region_code >= $1 AND region_code < $2 "
            "ORDER BY random() LIMIT 5000",
            county,
            upper,
        )
        claimable = await connection.fetch(
            "SELECT id, category::text AS category FROM needs WHERE region_code >= $1 "
            "AND region_code < $2 AND status = 'open' AND quantity IS NULL "
            "ORDER BY random() LIMIT 50000",
            county,
            upper,
        )
        storm = await connection.fetch(
            "SELECT c.client_id, p.categories::text[] AS categories FROM oauth_clients c "
            "JOIN providers p ON p.id = c.provider_id WHERE c.client_id LIKE 'bench-storm-%'"
        )
        oldest = await connection.fetchval("SELECT now() - interval '30 days'")
    finally:
        await connection.close()
    served = {row["client_id"]: frozenset(row["categories"]) for row in storm}
    return scenarios.Targets(
        county=county,
        province=province,
        child_ids=[row["id"] for row in children],
        claimable_needs=_by_category(claimable),
        storm_categories=[
            served.get(f"bench-storm-{n:02d}", frozenset()) for n in range(scenarios.STORM_CLIENTS)
        ],
        oldest_change=oldest,
    )


def _by_category(rows: list[asyncpg.Record]) -> dict[str, list[uuid.UUID]]:
    found: dict[str, list[uuid.UUID]] = {}
    for row in rows:
        found.setdefault(row["category"], []).append(row["id"])
    return found


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    # Users whose walk ended before the time was up (a storm client with no open need left in
    # its categories): fewer users than asked for were sending, so the rate is not the hub's.
    users_done_early: int = 0

    def fail(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def summary(tally: Tally, elapsed: float) -> dict[str, Any]:
    values = sorted(tally.latencies)
    return {
        "requests": len(values),
        "requests_per_second": round(len(values) / elapsed, 1),
        "p50_ms": round(percentile(values, 0.50) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        "cpu_ms_per_request": tally.cpu_ms_per_request,
        "outcomes": tally.outcomes,
        "users_done_early": tally.users_done_early,
    }


async def drive(
    send: Callable[[httpx.AsyncClient, int, dict[str, Any]], Any],
    walk: Callable[[int, random.Random], Any],
    *,
    concurrency: int,
    duration: float,
    processes: Processes,
    check: Callable[[Any, Tally], None],
    servers: list[psutil.Process],
    database: str,
) -> tuple[Tally, float]:
    """``concurrency`` virtual users, each sending its next request as soon as the previous one
    is answered, for ``duration`` seconds.

    Each user has a client and a connection of its own, as separate apps would: one pool
    shared by all of them cost the driver more CPU than the hub spent on a claim (httpcore
    scans every connection of its pool for every request it places)."""
    tally = Tally()
    per_user = max(1, len(processes.hub_urls))  # a connection to each hub process it meets
    limits = httpx.Limits(max_connections=per_user, max_keepalive_connections=per_user)
    clients = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(concurrency)]
    async with contextlib.AsyncExitStack() as stack:
        for each in clients:
            await stack.enter_async_context(each)
        stop = time.monotonic() + duration

        async def user(number: int) -> None:
            client = clients[number]
            steps = walk(number, random.Random(number))
            response_json: Any = None
            while time.monotonic() < stop:
                try:
                    request = (
                        steps.send(response_json) if response_json is not None else next(steps)
                    )
                except StopIteration:
                    tally.users_done_early += 1
                    return
                started_at = time.perf_counter()
                try:
                    response = await send(client, number, request)
                except httpx.HTTPError as exc:
                    tally.fail(f"{type(exc).__name__}: {exc}")
                    response_json = {}
                    continue
                tally.latencies.append(time.perf_counter() - started_at)
                if response.status_code != 200:
                    tally.fail(f"HTTP {response.status_code}: {response.text}")
                    response_json = {}
                    continue
                response_json = response.json()
                check(response_json, tally)

        async def sampler() -> None:
            while time.monotonic() < stop:
                processes.sample_rss()
                await asyncio.sleep(0.25)

        meter = CpuMeter(servers, database)
        began = time.perf_counter()
        await asyncio.gather(sampler(), *(user(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - began
        tally.cpu_ms_per_request = meter.per_request_ms(len(tally.latencies))
    return tally, elapsed


def graphql_errors(body: Any, tally: Tally) -> None:
    if not isinstance(body, dict) or body.get("errors") or body.get("data") is None:
        tally.fail(json.dumps(body, ensure_ascii=False, default=str))


def claim_outcome(body: Any, tally: Tally) -> None:
    graphql_errors(body, tally)
    with contextlib.suppress(KeyError, TypeError):
        kind = body["data"]["claimNeed"]["__typename"]
        tally.outcomes[kind] = tally.outcomes.get(kind, 0) + 1


async def duplicates(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        twice = await connection.fetchval(
            "SELECT count(*) FROM (SELECT need_id FROM claims WHERE status = 'active' "
            "AND quantity IS NULL GROUP BY need_id HAVING count(*) > 1) AS twice"
        )
        over = await connection.fetchval(
            "SELECT count(*) FROM needs WHERE pledged_quantity > coalesce(quantity, 1)"
        )
    finally:
        await connection.close()
    return {"needs_claimed_twice": int(twice), "needs_over_pledged": int(over)}


async def run(args: argparse.Namespace, processes: Processes) -> dict[str, Any]:
    targets = await find_targets(args.database_url)
    wanted = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    # The storm changes the data the readers read: it goes last.
    wanted.sort(key=lambda name: name == "claim_storm")
    hub_urls = processes.hub_urls
    async with httpx.AsyncClient(timeout=60) as client:
        # Tokens from each process in turn; argon2 checks of the shared secret take a while.
        tokens: dict[str, str] = {}
        names = ["bench-ngo", "bench-gov"] + [
            f"bench-storm-{n:02d}" for n in range(scenarios.STORM_CLIENTS)
        ]
        if "claim_storm" not in wanted:
            names = names[:2]
        semaphore = asyncio.Semaphore(4)

        async def fetch(index: int, name: str) -> None:
            async with semaphore:
                tokens[name] = await token_for(client, hub_urls[index % len(hub_urls)], name)

        await asyncio.gather(*(fetch(i, name) for i, name in enumerate(names)))

    round_robin = itertools.count()

    def graphql_sender(token_of: Callable[[int], str]) -> Any:
        async def send(client: httpx.AsyncClient, user: int, body: dict[str, Any]) -> Any:
            url = hub_urls[next(round_robin) % len(hub_urls)]
            return await client.post(
                f"{url}/graphql",
                json=body,
                headers={"authorization": f"Bearer {token_of(user)}"},
            )

        return send

    report: dict[str, Any] = {}
    plans: dict[str, tuple[Any, Any, Any]] = {
        "needs_page": (
            graphql_sender(lambda _: tokens["bench-ngo"]),
            scenarios.needs_page_requests(targets),
            graphql_errors,
        ),
        "changes_feed": (
            graphql_sender(lambda _: tokens["bench-gov"]),
            scenarios.changes_feed_requests(targets),
            graphql_errors,
        ),
        "child_detail": (
            graphql_sender(lambda _: tokens["bench-gov"]),
            scenarios.child_detail_requests(targets),
            graphql_errors,
        ),
        "claim_storm": (
            graphql_sender(lambda user: tokens[f"bench-storm-{user:02d}"]),
            scenarios.claim_storm_requests(targets),
            claim_outcome,
        ),
    }
    for name in wanted:
        send, walk, check = plans[name]
        concurrency = SCENARIO_CONCURRENCY.get(name, args.concurrency)
        print(f"{name}: {concurrency} users for {args.duration:.0f}s", flush=True)
        tally, elapsed = await drive(
            send,
            walk,
            concurrency=concurrency,
            duration=args.duration,
            processes=processes,
            check=check,
            servers=processes.hubs,
            database=database_name(args.database_url),
        )
        result = summary(tally, elapsed)
        result["concurrency"] = concurrency
        if tally.users_done_early:
            print(
                f"  warning: {tally.users_done_early} of {concurrency} users ran out of requests"
                " before the time was up (a storm: no open need left in their categories); the"
                " rate is not the hub's. Seed the database again.",
                flush=True,
            )
        if name == "claim_storm":
            claimed = tally.outcomes.get("ClaimNeedSuccess", 0)
            result["claims_per_second"] = round(claimed / elapsed, 1)
            result.update(await duplicates(args.database_url))
        if name == "needs_page" and processes.floor_url is not None:
            floor = await run_floor(processes.floor_url, processes.floor, targets, args)
            result["floor"] = floor
            result["floor_requests_per_second"] = floor["requests_per_second"]
            result["ratio_hub_to_floor"] = round(
                result["requests_per_second"] / max(floor["requests_per_second"], 0.1), 3
            )
            # The same ratio from CPU time instead of the clock: the floor's server and database
            # CPU per page over the hub's. It tells what share of the floor's rate the hub would
            # reach on cores of its own, whatever else ran during the run.
            hub_cpu, floor_cpu = result["cpu_ms_per_request"], floor["cpu_ms_per_request"]
            result["cpu_ratio_hub_to_floor"] = round(
                (floor_cpu["server"] + floor_cpu["database"])
                / max(hub_cpu["server"] + hub_cpu["database"], 0.01),
                3,
            )
        report[name] = result
        print(f"  {json.dumps({k: v for k, v in result.items() if k != 'floor'})}", flush=True)
    return {
        "targets": {"county": targets.county, "province": targets.province},
        "scenarios": report,
        "hub_processes": len(hub_urls),
        "hub_workers_per_process": None if args.hub_url else args.workers,
        "peak_rss_mb": {str(pid): round(rss / 2**20, 1) for pid, rss in processes.peak_rss.items()},
        "peak_rss_mb_max": round(max(processes.peak_rss.values(), default=0) / 2**20, 1),
    }


async def run_floor(
    floor_url: str,
    floor: psutil.Process | None,
    targets: scenarios.Targets,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The same walk as needs_page, against the floor, with the same concurrency."""

    async def send(client: httpx.AsyncClient, user: int, body: dict[str, Any]) -> Any:
        params = {"county": targets.county}
        if body["variables"]["after"]:
            params["after"] = body["variables"]["after"]
        return await client.get(f"{floor_url}/needs", params=params)

    tally, elapsed = await drive(
        send,
        scenarios.needs_page_requests(targets),
        concurrency=args.concurrency,
        duration=args.duration,
        processes=Processes(hub_urls=[]),
        check=graphql_errors,
        servers=[] if floor is None else [floor],
        database=database_name(args.database_url),
    )
    return summary(tally, elapsed)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def main(args: argparse.Namespace) -> int:
    with started(args) as processes:
        began = datetime.now(UTC)
        report = asyncio.run(run(args, processes))
    report.update(
        {
            "started_at": began.isoformat(),
            "label": args.label,
            "database_url": args.database_url.rsplit("/", 1)[-1],
            "duration_seconds": args.duration,
            "concurrency": args.concurrency,
            "machine": machine(),
            "command": "python -m bench " + " ".join(sys.argv[1:]),
        }
    )
    Path(args.json_path).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"report written to {args.json_path}")
    return 0
