"""Children and needs for read-side tests, made quickly through the domain layer.

Each helper acts as an official of the region it writes in (the same rules a mutation goes
through), commits, and returns the domain view. ``set_need`` then moves timestamps or status
directly in SQL, for tests that need a known order; ``feed_settled`` waits until the change feed
has reached every change made so far.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from strawberry.relay import to_base64

from hub.auth.principal import Principal
from hub.auth.principals import member_principal
from hub.db.engine import session_factory
from hub.domain import children, needs
from hub.domain.children import ChildView
from hub.domain.id_numbers import check_character
from hub.domain.needs import NeedView
from hub.vocabulary import Guardianship, NeedCategory, NeedStatus, NeedUnit, Urgency
from tests.world import OTHER_COUNTY, VILLAGE, birth_date_for_age

ID_HASH_KEY = b"test-id-hash-key"
# A fixed instant far enough in the past that no need made during a test is older.
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
# How long ``feed_settled`` waits for transactions still running on the server.
FEED_SETTLE_SECONDS = 30.0


def official_for(region_code: str) -> str:
    """The login of an officer whose jurisdiction covers ``region_code`` (see tests/world.py)."""
    return "foreign_officer" if region_code.startswith(OTHER_COUNTY) else "officer"


def id_number_for(region_code: str, birth_date: date, sequence: int = 1) -> str:
    """A valid 18-character resident ID number (GB 11643) for a child born in the region."""
    first17 = f"{region_code[:6]}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def gid(type_name: str, key: object) -> str:
    """The Relay global ID the API gives an object of ``type_name`` with ``key``."""
    return to_base64(type_name, str(key))


async def _principal(session: AsyncSession, login: str) -> Principal:
    principal = await member_principal(session, login)
    assert principal is not None, f"{login} holds no live role"
    return principal


async def add_child(
    engine: AsyncEngine,
    *,
    region: str = VILLAGE,
    age: int = 9,
    guardianship: Guardianship = Guardianship.GRANDPARENTS,
    father_away: bool = True,
    mother_away: bool = True,
    school: str | None = "江口中心小学",
    parents_away_since: date | None = date(2021, 2, 1),
    parents_work_location: str | None = "广东东莞",
    full_name: str = "王小明",
    id_number: str | None = None,
    address: str | None = "江口镇旱江村3组",
    guardian_name: str | None = "王建国",
    guardian_relation: str | None = "祖父",
    guardian_phone: str | None = "13800001111",
    login: str | None = None,
) -> ChildView:
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        principal = await _principal(session, login or official_for(region))
        return await children.register_child(
            session,
            principal,
            children.NewChild(
                region_code=region,
                birth_date=birth_date_for_age(age),
                guardianship=guardianship,
                father_away=father_away,
                mother_away=mother_away,
                school=school,
                parents_away_since=parents_away_since,
                parents_work_location=parents_work_location,
                identity=children.IdentityInput(
                    full_name=full_name,
                    id_number=id_number,
                    address=address,
                    guardian_name=guardian_name,
                    guardian_relation=guardian_relation,
                    guardian_phone=guardian_phone,
                ),
            ),
            id_hash_key=ID_HASH_KEY,
        )


async def add_need(
    engine: AsyncEngine,
    child: ChildView | uuid.UUID,
    *,
    category: NeedCategory = NeedCategory.MATERIAL,
    urgency: Urgency = Urgency.MEDIUM,
    description: str = "冬季棉衣一件",
    quantity: Decimal | None = None,
    unit: NeedUnit | None = None,
    due_date: date | None = None,
    login: str | None = None,
) -> NeedView:
    child_id = child.id if isinstance(child, ChildView) else child
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        region = (
            await session.execute(
                text("SELECT region_code FROM children WHERE id = :id"), {"id": child_id}
            )
        ).scalar_one()
        principal = await _principal(session, login or official_for(region))
        return await needs.open_need(
            session,
            principal,
            needs.NewNeed(
                child_id=child_id,
                category=category,
                urgency=urgency,
                description=description,
                quantity=quantity,
                unit=unit,
                due_date=due_date,
            ),
        )


async def set_need(
    engine: AsyncEngine,
    need: NeedView | uuid.UUID,
    *,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    status: NeedStatus | None = None,
) -> None:
    """Move a need's timestamps or status directly, bypassing the rules (test setup only)."""
    need_id = need.id if isinstance(need, NeedView) else need
    async with engine.begin() as connection:
        if created_at is not None:
            await connection.execute(
                text("UPDATE needs SET created_at = :at WHERE id = :id"),
                {"at": created_at, "id": need_id},
            )
        if updated_at is not None:
            await connection.execute(
                text("UPDATE needs SET updated_at = :at WHERE id = :id"),
                {"at": updated_at, "id": need_id},
            )
        if status is not None:
            await connection.execute(
                text(
                    "UPDATE needs SET status = CAST(:status AS need_status),"
                    " cancel_reason = :reason WHERE id = :id"
                ),
                {
                    "status": status.value,
                    "reason": "cancelled in test setup" if status is NeedStatus.CANCELLED else None,
                    "id": need_id,
                },
            )


async def needs_at(
    engine: AsyncEngine,
    child: ChildView,
    specs: list[tuple[Urgency, int]],
    *,
    category: NeedCategory = NeedCategory.MATERIAL,
) -> list[NeedView]:
    """Needs of ``child`` with the given urgencies, created ``hours`` after T0 (and unchanged)."""
    made = []
    for urgency, hours in specs:
        need = await add_need(engine, child, urgency=urgency, category=category)
        at = T0 + timedelta(hours=hours)
        await set_need(engine, need, created_at=at, updated_at=at)
        made.append(need)
    return made


async def touch_needs(engine: AsyncEngine, made: list[NeedView]) -> None:
    """Change ``made`` together, in one transaction, so that they tie in the change feed."""
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE needs SET version = version + 1 WHERE id = ANY(:ids)"),
            {"ids": [need.id for need in made]},
        )


async def _held_back(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        behind = await connection.scalar(
            text(
                "SELECT count(*) FROM needs WHERE change_xid >= "
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            )
        )
    return int(behind or 0)


async def feed_settled(engine: AsyncEngine) -> None:
    """Wait until the change feed reaches every change committed so far.

    The feed stops short of changes made after the oldest transaction still running anywhere on
    the server (see ``hub.domain.needs``): on a server the tests share with others, theirs too.
    """
    for _ in range(int(FEED_SETTLE_SECONDS / 0.05)):
        if not await _held_back(engine):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"a transaction on the server held back the change feed for {FEED_SETTLE_SECONDS} s"
    )
