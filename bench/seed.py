"""Fill a PostgreSQL database with a register of N children, bulk-loaded with COPY.

The shape follows the demo (``hub.demo``): its provinces, counties, townships and villages,
log-normal weights so that most villages hold a handful of children and a few very many, the
same generators for children, identities, consents and needs (about three per child). On top
of that come claims with their history (active, fulfilled after a verified delivery, released,
expired) and the machine clients the benchmark signs in as.

Children are generated and copied in chunks so memory stays flat whatever N is. The audit log
is left with one event saying the database was seeded: its rows are hash-chained by a trigger
in commit order, and a bulk history of them would measure nothing the benchmark reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from hub.auth.passwords import hash_secret
from hub.auth.policy import ALL_SCOPES
from hub.db import migrate
from hub.demo.providers import build_cast, new_id
from hub.demo.regions import Region as DemoRegion
from hub.demo.regions import build_regions
from hub.demo.seed import Dataset, _age, _ChildBuilder, _region_row
from hub.settings import Settings
from hub.vocabulary import (
    ClaimStatus,
    DeliveryStatus,
    NeedCategory,
    NeedStatus,
    ProviderKind,
    Role,
)

Row = dict[str, Any]

CHUNK = 20_000
# Known to the load driver, which signs in with them; a benchmark database holds no real data.
CLIENT_SECRET = "bench-client-secret-not-for-production"
ID_HASH_KEY = "bench-id-hash-key-0123456789abcdef"
KEY_ENCRYPTION_KEY = "bench-key-encryption-key-0123456789abcdef"
STORM_CLIENTS = 64

# Per indivisible open need: the share that gets each claim history.
_ACTIVE, _FULFILLED, _RELEASED, _EXPIRED = 0.10, 0.06, 0.04, 0.02


@dataclass(frozen=True)
class BenchClient:
    client_id: str
    provider_id: uuid.UUID
    role: Role
    jurisdiction: str

    @property
    def secret(self) -> str:
        return CLIENT_SECRET


def bench_settings(database_url: str) -> Settings:
    """The settings every benchmark process shares: same database, same keys, same issuer."""
    return Settings.from_env(
        {
            "HUB_DATABASE_URL": database_url,
            "HUB_ID_HASH_KEY": ID_HASH_KEY,
            "HUB_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
            # Argon2 at its production cost: the token endpoint is exercised as it is.
        }
    )


async def ensure_database(url: str, *, recreate: bool) -> None:
    parsed = make_url(url)
    name = parsed.database
    admin_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and recreate:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _copy(connection: asyncpg.Connection, table: str, rows: Sequence[Row]) -> None:
    if not rows:
        return
    columns = [column for column in rows[0] if not column.startswith("_")]
    await connection.copy_records_to_table(
        table,
        records=[tuple(_plain(row[column]) for column in columns) for row in rows],
        columns=columns,
    )


def _plain(value: Any) -> Any:
    # asyncpg sends enums of the schema as text; StrEnum members are str already, lists of
    # them too. Nothing else needs converting.
    return value


class _Coordination:
    """Claims and deliveries with history for a share of the needs just generated."""

    def __init__(
        self,
        rng: random.Random,
        claimants: dict[tuple[str, NeedCategory], list[uuid.UUID]],
        now: datetime,
    ):
        self.rng = rng
        self.claimants = claimants
        self.now = now
        self.claims: list[Row] = []
        self.deliveries: list[Row] = []

    def visit(self, need: Row) -> None:
        if need["status"] is not NeedStatus.OPEN or need["quantity"] is not None:
            return
        providers = self.claimants.get((need["region_code"][:6], NeedCategory(need["category"])))
        if not providers:
            return
        roll = self.rng.random()
        if roll < _RELEASED + _EXPIRED:
            self._ended(need, providers, ClaimStatus.RELEASED if roll < _RELEASED else None)
            roll = self.rng.random()  # a need given back is often taken up again
        if roll < _ACTIVE:
            self._claim(need, providers, ClaimStatus.ACTIVE)
            need["status"] = NeedStatus.CLAIMED
            need["pledged_quantity"] = Decimal(1)
        elif roll < _ACTIVE + _FULFILLED:
            claim = self._claim(need, providers, ClaimStatus.FULFILLED)
            self._delivery(claim, verified=True)
            need["status"] = NeedStatus.FULFILLED
            need["pledged_quantity"] = Decimal(1)

    def _claim(self, need: Row, providers: list[uuid.UUID], status: ClaimStatus) -> Row:
        rng = self.rng
        start = max(need["created_at"], self.now - timedelta(days=40))
        claimed = start + (self.now - start) * rng.uniform(0.1, 0.9)
        ended = status is not ClaimStatus.ACTIVE
        row: Row = {
            "id": new_id(rng),
            "need_id": need["id"],
            "provider_id": rng.choice(providers),
            "quantity": None,
            "status": status,
            "claimed_at": claimed,
            "expected_by": claimed + timedelta(days=10),
            "expires_at": claimed + timedelta(days=30 if status is ClaimStatus.ACTIVE else 14),
            "delivered_quantity": Decimal(1) if status is ClaimStatus.FULFILLED else Decimal(0),
            "verified_quantity": Decimal(1) if status is ClaimStatus.FULFILLED else Decimal(0),
            "ended_at": claimed + (self.now - claimed) * 0.8 if ended else None,
            "end_reason": None,
        }
        if status is ClaimStatus.ACTIVE:
            row["expires_at"] = max(row["expires_at"], self.now + timedelta(days=3))
        need["updated_at"] = max(need["updated_at"], claimed)
        self.claims.append(row)
        return row

    def _ended(self, need: Row, providers: list[uuid.UUID], status: ClaimStatus | None) -> None:
        claim = self._claim(need, providers, status or ClaimStatus.EXPIRED)
        if status is ClaimStatus.RELEASED:
            claim["end_reason"] = "人手不足，交由其他机构"
        # Ended before the history that follows it.
        claim["claimed_at"] -= timedelta(days=20)
        claim["expected_by"] -= timedelta(days=20)
        claim["expires_at"] = claim["claimed_at"] + timedelta(days=14)
        claim["ended_at"] = claim["expires_at"]

    def _delivery(self, claim: Row, *, verified: bool) -> None:
        delivered = claim["claimed_at"] + (claim["ended_at"] - claim["claimed_at"]) * 0.5
        self.deliveries.append(
            {
                "id": new_id(self.rng),
                "claim_id": claim["id"],
                "provider_id": claim["provider_id"],
                "quantity": None,
                "delivered_at": delivered,
                "description": "已按需求送达并由监护人签收",
                "evidence": "签收单照片",
                "status": DeliveryStatus.VERIFIED if verified else DeliveryStatus.LOGGED,
                "logged_at": delivered,
                "reviewed_at": claim["ended_at"] if verified else None,
                "dispute_reason": None,
            }
        )


TEMPLATES = 25_000


class _Cloner:
    """Children beyond the first TEMPLATES are copies of earlier ones moved to a new village.

    Generating every child from scratch (names to pinyin, ID numbers, need texts) costs about a
    millisecond each; a million would take a quarter of an hour. A copy takes new ids, a new
    register code, village, school, registrar and address, and keeps the rest (age, family,
    guardianship, needs' texts), so the distributions stay those of the generators.
    """

    def __init__(self, rng: random.Random, builder: _ChildBuilder, seed: int) -> None:
        self.rng = rng
        self.builder = builder
        self.data = builder.data
        self.seed = seed
        self.templates: list[tuple[Row, Row, Row | None, list[Row]]] = []
        self.copies = 0
        self.addresses: dict[str, str] = {}

    def templates_wanted(self) -> bool:
        return len(self.templates) < TEMPLATES

    def keep_last(self) -> None:
        data = self.data
        child = data.children[-1]
        consent = (
            data.consents[-1]
            if data.consents and data.consents[-1]["child_id"] == child["id"]
            else None
        )
        needs = [need for need in data.needs[-12:] if need["child_id"] == child["id"]]
        self.templates.append((child, data.identities[-1], consent, needs))

    def add(self, village: DemoRegion) -> None:
        rng, builder, data = self.rng, self.builder, self.data
        child, identity, consent, needs = rng.choice(self.templates)
        county = village.code[:6]
        builder.sequence[county] += 1
        self.copies += 1
        child_id = new_id(rng)
        age = _age(child["birth_date"], builder.today)
        data.children.append(
            {
                **child,
                "id": child_id,
                "code": f"C{county}-{builder.sequence[county]:05d}",
                "region_code": village.code,
                "school": builder._school(village, age),
                "registered_by_provider_id": builder._registrar(village.code),
            }
        )
        # A keyed hash of no real number: unique per copy, which is all the index asks.
        fake_hash = hashlib.sha256(f"{self.seed}:{self.copies}".encode()).hexdigest()
        if village.code not in self.addresses:
            self.addresses[village.code] = data.tree.full_name(village.code)
        data.identities.append(
            {
                **identity,
                "child_id": child_id,
                "id_number_hash": fake_hash if identity["id_number_hash"] else None,
                "address": f"{self.addresses[village.code]}{rng.randint(1, 12)}组"
                f"{rng.randint(1, 80)}号",
            }
        )
        if consent is not None:
            data.consents.append({**consent, "id": new_id(rng), "child_id": child_id})
        officials = data.cast.officials_for(village.code)
        for need in needs:
            data.needs.append(
                {
                    **need,
                    "id": new_id(rng),
                    "child_id": child_id,
                    "region_code": village.code,
                    "opened_by_provider_id": rng.choice(officials),
                    # The template's needs may have been claimed in its own chunk.
                    "status": need.get("_drawn_status", need["status"]),
                    "pledged_quantity": Decimal(0),
                }
            )

    def flush(self) -> None:
        for rows in (self.data.children, self.data.identities, self.data.consents, self.data.needs):
            rows.clear()


def _claimants(
    providers: Iterable[Row], counties: Iterable[str]
) -> dict[tuple[str, NeedCategory], list[uuid.UUID]]:
    """For each county and need category, the active providers whose jurisdiction covers all
    of the county and who serve the category (a provider claims only needs it serves)."""
    found: dict[tuple[str, NeedCategory], list[uuid.UUID]] = defaultdict(list)
    providers = list(providers)
    for county in counties:
        for provider in providers:
            if any(county.startswith(prefix) for prefix in provider["jurisdictions"]):
                for category in provider["categories"]:
                    found[county, NeedCategory(category)].append(provider["id"])
    return found


async def seed(
    database_url: str, *, children: int, seed: int = 2020, recreate: bool = True
) -> None:
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)

    await ensure_database(database_url, recreate=recreate)
    await migrate.upgrade(database_url)
    say("database created and migrated")
    settings = bench_settings(database_url)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    tree = build_regions(rng)
    weights = [rng.lognormvariate(0.0, 1.0) for _ in tree.villages]
    busiest: dict[str, tuple[DemoRegion, float]] = {}
    for village, weight in zip(tree.villages, weights, strict=True):
        county = village.code[:6]
        if county not in busiest or weight > busiest[county][1]:
            busiest[county] = (village, weight)
    busy = [village for village, _ in sorted(busiest.values(), key=lambda pair: -pair[1])]
    cast = build_cast(rng, tree, busy, now - timedelta(days=540))
    data = Dataset(tree, cast, [_region_row(region) for region in tree.regions])
    _clients, client_rows, client_grants = _bench_clients(rng, settings, cast.providers, busy)
    claimants = _claimants(
        [p for p in cast.providers if p["kind"] is not ProviderKind.INDIVIDUAL],
        (county.code for county in tree.counties),
    )
    connection = await asyncpg.connect(database_url)
    try:
        # The rows are consistent by construction, so skip the per-row foreign-key triggers
        # while copying (a superuser's setting) and check every reference once at the end.
        await connection.execute("SET session_replication_role = replica")
        async with connection.transaction():
            await _copy(connection, "regions", data.regions)
            await _copy(connection, "providers", cast.providers)
            await _copy(connection, "members", cast.members)
            await _copy(connection, "role_grants", cast.grants)
            await _copy(connection, "oauth_clients", client_rows)
            await _copy(connection, "role_grants", client_grants)
        say(
            f"{len(data.regions)} regions, {len(cast.providers)} providers, "
            f"{len(cast.members)} members, {len(client_rows)} clients"
        )
        builder = _ChildBuilder(rng, data, ID_HASH_KEY.encode(), now)
        cloner = _Cloner(rng, builder, seed)
        villages = rng.choices(tree.villages, weights, k=children)
        totals: dict[str, int] = defaultdict(int)
        for start in range(0, children, CHUNK):
            for village in villages[start : start + CHUNK]:
                if cloner.templates_wanted():
                    builder.add(village)
                    cloner.keep_last()
                else:
                    cloner.add(village)
            coordination = _Coordination(rng, claimants, now)
            for need in data.needs:
                need.setdefault("pledged_quantity", Decimal(0))
                need.setdefault("_drawn_status", need["status"])
                coordination.visit(need)
            async with connection.transaction():
                for table, rows in (
                    ("children", data.children),
                    ("child_identities", data.identities),
                    ("guardian_consents", data.consents),
                    ("needs", data.needs),
                    ("claims", coordination.claims),
                    ("deliveries", coordination.deliveries),
                ):
                    await _copy(connection, table, rows)
                    totals[table] += len(rows)
            cloner.flush()
            say(
                f"{totals['children']:>9,} children, {totals['needs']:>9,} needs, "
                f"{totals['claims']:>8,} claims, {totals['deliveries']:>8,} deliveries"
            )
        await connection.execute("SET session_replication_role = DEFAULT")
        say("checking references")
        await _check_references(connection)
        await connection.execute(
            "INSERT INTO audit_events (action, entity_type, entity_id, data) "
            "VALUES ('bench.seeded', 'database', 'bench', $1::jsonb)",
            _json({**totals, "seed": seed}),
        )
        say("change checkpoints")
        await connection.execute(_CHECKPOINTS)
        say("analysing")
        await connection.execute("VACUUM ANALYZE")
        size = await connection.fetchval(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        )
        say(f"done: {children:,} children; database size {size}")
    finally:
        await connection.close()


# The change feed's checkpoints (time -> transaction id) that a hub running through the seeded
# year would have recorded every hour: each the smallest transaction id of the needs changed from
# that hour on, so a lower bound for every later change, as the hub's own checkpoints are. The
# seed writes a year of history in a few transactions of today, so without them every
# `changedSince` would fall back to a pass over its whole window.
_CHECKPOINTS = """
INSERT INTO change_checkpoints (at, xid)
SELECT hour, min(first_xid) OVER (ORDER BY hour DESC ROWS UNBOUNDED PRECEDING)
FROM (
  SELECT date_trunc('hour', updated_at) AS hour, min(change_xid) AS first_xid
  FROM needs GROUP BY 1
) AS hours
ON CONFLICT (at) DO NOTHING
"""


_REFERENCES = (
    ("children", "region_code", "regions", "code"),
    ("children", "registered_by_provider_id", "providers", "id"),
    ("child_identities", "child_id", "children", "id"),
    ("guardian_consents", "child_id", "children", "id"),
    ("needs", "child_id", "children", "id"),
    ("needs", "region_code", "regions", "code"),
    ("needs", "opened_by_provider_id", "providers", "id"),
    ("claims", "need_id", "needs", "id"),
    ("claims", "provider_id", "providers", "id"),
    ("deliveries", "claim_id", "claims", "id"),
    ("role_grants", "provider_id", "providers", "id"),
    ("role_grants", "member_id", "members", "id"),
    ("role_grants", "oauth_client_id", "oauth_clients", "id"),
    ("oauth_clients", "provider_id", "providers", "id"),
)


async def _check_references(connection: asyncpg.Connection) -> None:
    for table, column, target, key in _REFERENCES:
        dangling = await connection.fetchval(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {target} x WHERE x.{key} = t.{column})"
        )
        if dangling:
            raise RuntimeError(f"{dangling} rows of {table}.{column} point nowhere")


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value)


def _bench_clients(
    rng: random.Random, settings: Settings, providers: list[Row], busy: list[DemoRegion]
) -> tuple[list[BenchClient], list[Row], list[Row]]:
    """The machine principals the load driver signs in as (client_credentials).

    - ``bench-ngo``: an NGO's app, a coordinator across the NGO's jurisdictions;
    - ``bench-gov``: a province's government integration, an officer of the province;
    - ``bench-storm-NN``: 64 claimants' back ends spread over the providers that cover the
      busiest county and serve some category (their role is coordinator, or officer for
      government ones).
    """
    county = busy[0].code[:6]
    covering = [
        p
        for p in providers
        if any(county.startswith(prefix) for prefix in p["jurisdictions"])
        and p["kind"] is not ProviderKind.INDIVIDUAL
    ]
    ngo = next(p for p in covering if p["kind"] is ProviderKind.NGO)
    government = next(
        p
        for p in providers
        if p["kind"] is ProviderKind.GOVERNMENT and county[:2] in p["jurisdictions"]
    )
    wanted: list[tuple[str, Row, Role, str]] = [
        ("bench-ngo", ngo, Role.COORDINATOR, _covering_prefix(ngo, county)),
        ("bench-gov", government, Role.GOVERNMENT_OFFICER, county[:2]),
    ]
    # A provider serving no category claims nothing (the platform's operations, say).
    claimants = [p for p in covering if p["categories"]]
    for n in range(STORM_CLIENTS):
        provider = claimants[n % len(claimants)]
        official = provider["kind"] in (ProviderKind.GOVERNMENT, ProviderKind.VILLAGE_OFFICE)
        role = Role.GOVERNMENT_OFFICER if official else Role.COORDINATOR
        wanted.append((f"bench-storm-{n:02d}", provider, role, _covering_prefix(provider, county)))
    # One shared secret, hashed once: argon2 at production cost takes a while per hash.
    secret_hash = hash_secret(settings, CLIENT_SECRET)
    clients, rows, grants = [], [], []
    for client_id, provider, role, jurisdiction in wanted:
        client = BenchClient(client_id, provider["id"], role, jurisdiction)
        clients.append(client)
        pk = new_id(rng)
        rows.append(
            {
                "id": pk,
                "client_id": client_id,
                "name": f"benchmark client {client_id}",
                "provider_id": provider["id"],
                "token_endpoint_auth_method": "client_secret_basic",
                "secret_hash": secret_hash,
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "scopes": list(ALL_SCOPES),
            }
        )
        grants.append(
            {
                "id": new_id(rng),
                "oauth_client_id": pk,
                "provider_id": provider["id"],
                "role": role,
                "jurisdiction": jurisdiction,
            }
        )
    return clients, rows, grants


def _covering_prefix(provider: Row, county: str) -> str:
    return next(prefix for prefix in provider["jurisdictions"] if county.startswith(prefix))


def run(database_url: str, *, children: int, seed_value: int, recreate: bool) -> None:
    asyncio.run(seed(database_url, children=children, seed=seed_value, recreate=recreate))
