"""Rule 1 under load: hundreds of claims at once, from several OS processes each with its own
hub application and connection pool, against a few dozen needs."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import Member, Provider, RoleGrant
from hub.vocabulary import NeedCategory, ProviderKind, Role
from tests.coordination import a_child, a_need
from tests.graphql import GraphQLClient
from tests.world import COUNTY, World

PROCESSES = 3
ATTEMPTS = 510  # spread over the processes
RETRIES = 30  # attempts sent twice with one key, from two different processes
INDIVISIBLE = 24
DIVISIBLE = 12
PLEDGES = ("10", "15", "20", "25", "30", "40", None)  # None: all that remains
PROVIDERS = 12
ROOT = Path(__file__).resolve().parent.parent


async def add_providers(engine: AsyncEngine) -> list[str]:
    """NGOs of the county, one coordinator each: the many hands reaching for the same needs."""
    logins = []
    async with engine.begin() as connection:
        for n in range(PROVIDERS):
            provider_id, member_id, login = uuid.uuid4(), uuid.uuid4(), f"storm{n}"
            await connection.execute(
                insert(Provider).values(
                    id=provider_id,
                    name=f"志愿团体{n}",
                    kind=ProviderKind.NGO,
                    jurisdictions=[COUNTY],
                    categories=list(NeedCategory),
                )
            )
            await connection.execute(
                insert(Member).values(id=member_id, login=login, display_name=login)
            )
            await connection.execute(
                insert(RoleGrant).values(
                    member_id=member_id,
                    provider_id=provider_id,
                    role=Role.COORDINATOR,
                    jurisdiction=COUNTY,
                )
            )
            logins.append(login)
    return logins


def make_plan(
    rng: random.Random, logins: list[str], indivisible: list[str], divisible: list[str]
) -> tuple[list[list[dict[str, Any]]], dict[str, bool]]:
    needs = indivisible + divisible
    kinds = {need: need in divisible for need in needs}
    attempts = []
    for n in range(ATTEMPTS):
        # Every need is reached for several times; the rest at random.
        need = needs[n % len(needs)] if n < 4 * len(needs) else rng.choice(needs)
        attempts.append(
            {
                "id": n,
                "login": rng.choice(logins),
                "need": need,
                "quantity": rng.choice(PLEDGES) if kinds[need] else None,
                "key": f"storm-{n}",
            }
        )
    rng.shuffle(attempts)
    shares: list[list[dict[str, Any]]] = [attempts[i::PROCESSES] for i in range(PROCESSES)]
    # A client that retries with the same key, its retry landing on another process.
    for n, original in enumerate(rng.sample(attempts, RETRIES)):
        owner = next(i for i, share in enumerate(shares) if original in share)
        shares[(owner + 1 + n % (PROCESSES - 1)) % PROCESSES].append(
            {**original, "id": ATTEMPTS + n, "retry_of": original["id"]}
        )
    return shares, kinds


async def run_processes(
    shares: list[list[dict[str, Any]]], database_url: str, workdir: Path
) -> tuple[list[dict[str, Any]], float]:
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.claim_storm",
            database_url,
            str(workdir / f"data-{index}"),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        for index in range(PROCESSES)
    ]
    try:
        for worker, share in zip(workers, shares, strict=True):
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write(json.dumps(share).encode() + b"\n")
            await worker.stdin.drain()
        # Every process has its app up and its pool open before any fires.
        for worker in workers:
            assert worker.stdout is not None
            ready = await asyncio.wait_for(worker.stdout.readline(), timeout=120)
            assert ready.strip() == b"ready", ready
        started = time.perf_counter()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(worker.communicate() for worker in workers)), timeout=300
        )
        elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
    reports = []
    for worker, (stdout, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr.decode()[-3000:]
        reports.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    return reports, elapsed


@pytest.mark.slow
async def test_concurrent_claims_from_several_processes_never_duplicate_aid(
    gql: GraphQLClient, world: World, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    logins = await add_providers(engine)
    children = [await a_child(gql, f"儿童{n}") for n in range(6)]
    indivisible = [
        await a_need(gql, children[n % 6], category=("MATERIAL", "EDUCATION", "MEDICAL")[n % 3])
        for n in range(INDIVISIBLE)
    ]
    divisible = [
        await a_need(gql, children[n % 6], category="FINANCIAL", quantity="100", unit="YUAN")
        for n in range(DIVISIBLE)
    ]
    shares, divisible_of = make_plan(random.Random(1949), logins, indivisible, divisible)
    attempts = {a["id"]: a for share in shares for a in share}
    assert len(attempts) == ATTEMPTS + RETRIES

    reports, elapsed = await run_processes(shares, database_url, tmp_path)

    answers = {answer["id"]: answer for report in reports for answer in report["answers"]}
    assert answers.keys() == attempts.keys()
    failed = [a for a in answers.values() if a["status"] != 200 or "errors" in a]
    assert failed == [], failed[:5]
    types = Counter(a["type"] for a in answers.values())
    assert set(types) <= {"ClaimNeedSuccess", "AlreadyClaimed", "OverPledged"}
    for answer in answers.values():
        need = attempts[answer["id"]]["need"]
        if answer["type"] == "AlreadyClaimed":
            assert not divisible_of[need]
        if answer["type"] == "OverPledged":
            assert divisible_of[need]

    # A retry with the same key got the first answer: the same claim, not a second one.
    for answer in answers.values():
        first = attempts[answer["id"]].get("retry_of")
        if first is not None:
            assert answer["type"] == answers[first]["type"]
            assert answer.get("claim") == answers[first].get("claim")

    async with engine.connect() as connection:
        active = dict(
            (
                await connection.execute(
                    text(
                        "SELECT n.id, count(c.id) FROM needs n LEFT JOIN claims c"
                        " ON c.need_id = n.id AND c.status = 'active'"
                        " WHERE n.quantity IS NULL GROUP BY n.id"
                    )
                )
            ).all()
        )
        pledges = (
            await connection.execute(
                text(
                    "SELECT n.id, n.quantity, n.pledged_quantity, coalesce(sum(c.quantity), 0)"
                    " FROM needs n LEFT JOIN claims c ON c.need_id = n.id AND c.status = 'active'"
                    " WHERE n.quantity IS NOT NULL GROUP BY n.id"
                )
            )
        ).all()
        claims = (await connection.execute(text("SELECT count(*) FROM claims"))).scalar_one()
        made = (
            await connection.execute(
                text("SELECT count(*) FROM audit_events WHERE action = 'claim.made'")
            )
        ).scalar_one()
    assert set(active.values()) == {1}
    assert len(active) == INDIVISIBLE
    over = [(need, quantity, total) for need, quantity, _, total in pledges if total > quantity]
    assert over == []
    assert all(pledged == total for _, _, pledged, total in pledges)
    winners = {a["claim"] for a in answers.values() if a["type"] == "ClaimNeedSuccess"}
    assert claims == made == len(winners)

    per_need = defaultdict(int)
    for answer in answers.values():
        per_need[attempts[answer["id"]]["need"]] += 1
    first_answers = {k: v for k, v in answers.items() if "retry_of" not in attempts[k]}
    print(
        f"\n{len(answers)} claim attempts ({ATTEMPTS} + {RETRIES} retries with the same key)"
        f" from {PROCESSES} processes in {elapsed:.1f}s (firing: "
        + ", ".join(f"{r['elapsed']:.1f}s" for r in reports)
        + f"); {len(per_need)} needs ({INDIVISIBLE} indivisible, {DIVISIBLE} divisible);"
        f" first attempts: {dict(Counter(a['type'] for a in first_answers.values()))};"
        f" all answers: {dict(types)}; claims held: {claims}"
    )
