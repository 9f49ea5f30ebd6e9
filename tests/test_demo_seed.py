"""The demo dataset: what someone trying the hub for the first time would look at."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo import DemoSummary, seed_demo
from hub.domain.id_numbers import check_character, parse_id_number
from hub.vocabulary import (
    ClaimStatus,
    DeliveryStatus,
    NeedCategory,
    NeedStatus,
    ProviderKind,
    Role,
    Urgency,
)
from tests.db_state import truncate

KEY = b"demo-test-key-0123456789abcdef!!"
SMALL = 200


async def scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


async def column(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(sql))).scalars())


async def table_counts(engine: AsyncEngine) -> dict[str, int]:
    names = await column(
        engine, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    return {
        str(name): int(await scalar(engine, f'SELECT count(*) FROM "{name}"')) for name in names
    }


@pytest.fixture
async def summary(engine: AsyncEngine) -> DemoSummary:
    seeded = await seed_demo(engine, id_hash_key=KEY, children=SMALL)
    assert seeded is not None
    return seeded


async def test_summary_counts_match_the_database(engine: AsyncEngine, summary: DemoSummary) -> None:
    assert summary.children == SMALL
    assert await scalar(engine, "SELECT count(*) FROM children") == summary.children
    assert await scalar(engine, "SELECT count(*) FROM child_identities") == summary.children
    assert await scalar(engine, "SELECT count(*) FROM needs") == summary.needs
    assert await scalar(engine, "SELECT count(*) FROM regions") == summary.regions
    assert await scalar(engine, "SELECT count(*) FROM providers") == summary.providers
    logins = await column(engine, "SELECT login FROM members ORDER BY login")
    assert logins == sorted(member.login for member in summary.members)
    # About three needs per child.
    assert 2.0 * SMALL < summary.needs < 4.0 * SMALL
    audit = await scalar(
        engine,
        "SELECT data FROM audit_events WHERE action = 'demo.seeded'"
        " AND entity_type = 'database' AND entity_id = 'demo'",
    )
    assert isinstance(audit, dict)
    assert audit["children"] == summary.children
    # Every need was either seeded in bulk or opened (for the coordination demo) one by one.
    opened = await scalar(engine, "SELECT count(*) FROM audit_events WHERE action = 'need.opened'")
    assert audit["needs"] + opened == summary.needs


async def test_every_provider_kind_and_role_is_present(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    kinds = await column(engine, "SELECT DISTINCT kind::text FROM providers")
    assert set(kinds) == {kind.value for kind in ProviderKind}
    roles = await column(
        engine, "SELECT DISTINCT role::text FROM role_grants WHERE revoked_at IS NULL"
    )
    assert set(roles) == {role.value for role in Role}
    assert {member.role for member in summary.members} == set(Role)
    assert {member.provider_kind for member in summary.members} >= {
        ProviderKind.GOVERNMENT,
        ProviderKind.VILLAGE_OFFICE,
        ProviderKind.SCHOOL,
        ProviderKind.NGO,
        ProviderKind.BUSINESS,
    }


async def test_each_member_acts_for_one_provider_within_its_jurisdictions(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT m.login, g.provider_id, g.role::text, g.jurisdiction, p.jurisdictions"
                    " FROM role_grants g JOIN members m ON m.id = g.member_id"
                    " JOIN providers p ON p.id = g.provider_id"
                )
            )
        ).all()
    providers_of: defaultdict[str, set[uuid.UUID]] = defaultdict(set)
    for login, provider_id, _role, jurisdiction, provider_jurisdictions in rows:
        providers_of[login].add(provider_id)
        assert jurisdiction, f"{login} holds a grant with an empty jurisdiction"
        assert any(jurisdiction.startswith(prefix) for prefix in provider_jurisdictions), login
    assert all(len(providers) == 1 for providers in providers_of.values())
    for member in summary.members:
        assert providers_of[member.login] == {member.provider_id}
        assert member.login.isascii()
    admin = next(member for member in summary.members if member.role is Role.PLATFORM_ADMIN)
    assert admin.provider_kind is ProviderKind.GOVERNMENT


async def test_needs_cover_every_category_and_urgency(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    categories = await column(engine, "SELECT DISTINCT category::text FROM needs")
    assert set(categories) == {category.value for category in NeedCategory}
    urgencies = await column(engine, "SELECT DISTINCT urgency::text FROM needs")
    assert set(urgencies) == {urgency.value for urgency in Urgency}
    statuses = await column(engine, "SELECT DISTINCT status::text FROM needs")
    # Every status a need can be in, the coordinated ones from the demo's claims.
    assert set(statuses) == {status.value for status in NeedStatus}
    critical = await scalar(engine, "SELECT count(*) FROM needs WHERE urgency = 'critical'")
    assert 0 < int(critical) < summary.needs / 10
    divisible = await scalar(engine, "SELECT count(*) FROM needs WHERE quantity IS NOT NULL")
    assert int(divisible) > 0
    mismatched = await scalar(
        engine,
        "SELECT count(*) FROM needs n JOIN children c ON c.id = n.child_id"
        " WHERE n.region_code <> c.region_code OR n.updated_at < n.created_at"
        " OR n.created_at < now() - interval '121 days'",
    )
    assert mismatched == 0


async def test_children_live_in_villages_that_exist(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    outside = await scalar(
        engine,
        "SELECT count(*) FROM children c LEFT JOIN regions r ON r.code = c.region_code"
        " WHERE r.code IS NULL OR r.level <> 'village' OR length(c.region_code) <> 12",
    )
    assert outside == 0
    villages_used = await scalar(engine, "SELECT count(DISTINCT region_code) FROM children")
    assert int(villages_used) > 10
    births = await column(engine, "SELECT birth_date FROM children")
    today = date.today()
    assert all(0 <= (today - birth).days < 18 * 366 for birth in births)
    nobody_away = await scalar(
        engine, "SELECT count(*) FROM children WHERE NOT (father_away OR mother_away)"
    )
    assert nobody_away == 0


async def test_consent_is_recorded_for_most_children(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    consents = int(await scalar(engine, "SELECT count(*) FROM guardian_consents"))
    assert 0.4 * SMALL < consents < 0.8 * SMALL
    in_future = await scalar(
        engine, "SELECT count(*) FROM guardian_consents WHERE given_at > now()"
    )
    assert in_future == 0


async def test_id_numbers_are_stored_only_as_unique_hashes(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    hashes = await column(engine, "SELECT id_number_hash FROM child_identities")
    assert None not in hashes
    assert len(set(hashes)) == len(hashes) == SMALL
    tables = await column(engine, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    for table in tables:
        # Hashes and fingerprints are hex and may by chance hold 18 digits in a row, so they are
        # left out; an ID number anywhere else would stand alone, not inside a hex string.
        plain = await scalar(
            engine,
            f'SELECT count(*) FROM "{table}" t'
            " WHERE (to_jsonb(t) - 'id_number_hash' - 'hash' - 'prev_hash' - 'fingerprint'"
            " - 'token_hash' - 'secret_hash' - 'code_hash' - 'password_hash')::text"
            " ~ '(^|[^0-9a-fA-F])[0-9]{17}[0-9X]([^0-9a-fA-F]|$)'",
        )
        assert plain == 0, table


async def test_id_hashes_come_from_valid_numbers_of_the_child(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    """Each hash is of a checksummed number with the child's county, birth date and sex."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT c.region_code, c.birth_date, c.sex::text, i.id_number_hash,"
                    " i.id_number_tail FROM children c JOIN child_identities i"
                    " ON i.child_id = c.id ORDER BY c.code LIMIT 20"
                )
            )
        ).all()
    for region_code, birth, sex, stored_hash, tail in rows:
        parity = 1 if sex == "male" else 0
        matches = []
        for sequence in range(parity, 1000, 2):
            first17 = f"{region_code[:6]}{birth:%Y%m%d}{sequence:03d}"
            number = first17 + check_character(first17)
            if parse_id_number(number).keyed_hash(KEY) == stored_hash:
                matches.append(number)
        assert len(matches) == 1
        assert matches[0][-4:] == tail


async def test_seeding_again_returns_none_and_changes_nothing(
    engine: AsyncEngine, summary: DemoSummary
) -> None:
    before = await table_counts(engine)
    assert await seed_demo(engine, id_hash_key=KEY, children=SMALL) is None
    assert await table_counts(engine) == before


async def test_two_seeds_at_once_fill_the_database_once(engine: AsyncEngine) -> None:
    first, second = await asyncio.gather(
        seed_demo(engine, id_hash_key=KEY, children=SMALL),
        seed_demo(engine, id_hash_key=KEY, children=SMALL, seed=7),
    )
    assert (first is None) != (second is None)
    assert await scalar(engine, "SELECT count(*) FROM children") == SMALL


async def test_sample_county_has_open_needs(engine: AsyncEngine, summary: DemoSummary) -> None:
    assert len(summary.sample_county) == 6
    assert summary.sample_county.isdigit()
    open_needs = await scalar(
        engine,
        "SELECT count(*) FROM needs WHERE status = 'open'"
        f" AND region_code LIKE '{summary.sample_county}%'",
    )
    assert int(open_needs) > 0
    level = await scalar(
        engine, f"SELECT level::text FROM regions WHERE code = '{summary.sample_county}'"
    )
    assert level == "county"


async def test_the_same_seed_gives_the_same_people(engine: AsyncEngine) -> None:
    first = await seed_demo(engine, id_hash_key=KEY, children=SMALL)
    names = await column(engine, "SELECT full_name FROM child_identities ORDER BY child_id")
    async with engine.begin() as connection:
        await truncate(
            connection,
            "audit_events, needs, guardian_consents, child_identities, children,"
            " role_grants, members, providers, regions",
        )
    second = await seed_demo(engine, id_hash_key=KEY, children=SMALL)
    assert first == second
    assert await column(engine, "SELECT full_name FROM child_identities ORDER BY child_id") == names


@pytest.mark.slow
async def test_full_demo(engine: AsyncEngine) -> None:
    summary = await seed_demo(engine, id_hash_key=KEY)
    assert summary is not None
    assert summary.children == 3000
    assert await scalar(engine, "SELECT count(*) FROM needs") == summary.needs


async def test_claims_in_every_state(engine: AsyncEngine, summary: DemoSummary) -> None:
    claims = dict(summary.claims)
    assert set(claims) == {status.value for status in ClaimStatus}
    assert await scalar(engine, "SELECT count(*) FROM claims") == sum(claims.values())
    overdue = await scalar(
        engine,
        "SELECT count(*) FROM claims WHERE status = 'active' AND expected_by < now()"
        " AND expires_at > now()",
    )
    assert overdue >= 1
    extended = await scalar(engine, "SELECT count(*) FROM claims WHERE extensions > 0")
    assert extended >= 1
    deliveries = await column(engine, "SELECT DISTINCT status::text FROM deliveries")
    assert set(deliveries) == {status.value for status in DeliveryStatus}
    # Everything went through the hub's rules: every claim is audited, the chain is intact.
    made = await scalar(engine, "SELECT count(*) FROM audit_events WHERE action = 'claim.made'")
    assert made == sum(claims.values())
    broken = await scalar(
        engine,
        "SELECT count(*) FROM audit_events WHERE hash <> audit_event_digest(audit_events)",
    )
    assert broken == 0
    overlapping = await scalar(
        engine,
        "SELECT count(*) FROM (SELECT n.child_id, n.category FROM claims c"
        " JOIN needs n ON n.id = c.need_id WHERE c.status = 'active'"
        " GROUP BY 1, 2 HAVING count(DISTINCT c.provider_id) > 1) o",
    )
    assert overlapping >= 1
