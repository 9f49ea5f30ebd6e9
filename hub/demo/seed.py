"""Fill an empty database with a realistic demo: regions, providers, children and their needs.

All rows are built in Python first, with ids from a seeded generator so that foreign keys need
no round trips, and then written by a handful of bulk inserts in one transaction.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import (
    AuditEvent,
    Child,
    ChildIdentity,
    GuardianConsent,
    Member,
    Need,
    Provider,
    Region,
    RoleGrant,
)
from hub.demo import people
from hub.demo.claims import seed_coordination
from hub.demo.needs import CANCEL_REASONS, draw_needs
from hub.demo.providers import Cast, DemoMember, build_cast, new_id
from hub.demo.regions import Region as DemoRegion
from hub.demo.regions import RegionTree, build_regions
from hub.domain.id_numbers import parse_id_number
from hub.vocabulary import (
    ChildStatus,
    ConsentMethod,
    ConsentScope,
    Guardianship,
    NeedStatus,
    Sex,
)

__all__ = ["DemoMember", "DemoSummary", "seed_demo"]

Row = dict[str, Any]

# Any constant will do, as long as nothing else in the hub takes the same advisory lock.
_SEED_LOCK = int.from_bytes(b"hubdemo!", "big")

_GUARDIANSHIP = (
    Guardianship.GRANDPARENTS,
    Guardianship.ONE_PARENT,
    Guardianship.RELATIVE,
    Guardianship.ENTRUSTED,
    Guardianship.NONE,
)
_GUARDIANSHIP_WEIGHTS = (62, 18, 10, 6, 4)
_NEEDS_WINDOW = timedelta(days=120)
_CONSENT_SHARE = 0.62  # of children with a guardian: about 60 % of all children


@dataclass(frozen=True)
class DemoSummary:
    regions: int
    providers: int
    members: tuple[DemoMember, ...]
    children: int
    needs: int
    # A county with many open needs, for the first query the CLI prints.
    sample_county: str
    # How many claims the demo holds in each status, by status value.
    claims: tuple[tuple[str, int], ...] = ()


async def seed_demo(
    engine: AsyncEngine, *, id_hash_key: bytes, children: int = 3000, seed: int = 2020
) -> DemoSummary | None:
    """Fill an empty, migrated database with a realistic demo dataset; return None (and change
    nothing) if it already holds any child."""
    async with engine.begin() as connection:
        # Two processes seeding at once: the second waits here, then finds the children.
        await connection.execute(select(func.pg_advisory_xact_lock(_SEED_LOCK)))
        if (await connection.execute(select(Child.id).limit(1))).first() is not None:
            return None
        data = build_dataset(
            random.Random(seed), id_hash_key=id_hash_key, children=children, now=datetime.now(UTC)
        )
        for model, rows in (
            (Region, data.regions),
            (Provider, data.cast.providers),
            (Member, data.cast.members),
            (RoleGrant, data.cast.grants),
            (Child, data.children),
            (ChildIdentity, data.identities),
            (GuardianConsent, data.consents),
            (Need, data.needs),
        ):
            if rows:
                await connection.execute(insert(model), rows)
        summary = data.summary()
        await connection.execute(
            insert(AuditEvent).values(
                action="demo.seeded",
                entity_type="database",
                entity_id="demo",
                data={**data.counts(), "seed": seed},
            )
        )
    # Coordination goes through the hub's own rules, one transaction per step, once the
    # register it works on is committed.
    coordination = await seed_coordination(engine)
    return dataclasses.replace(
        summary,
        needs=summary.needs + coordination.needs_opened,
        claims=tuple(sorted(coordination.claims.items())),
    )


@dataclass
class Dataset:
    tree: RegionTree
    cast: Cast
    regions: list[Row]
    children: list[Row] = field(default_factory=list)
    identities: list[Row] = field(default_factory=list)
    consents: list[Row] = field(default_factory=list)
    needs: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "regions": len(self.regions),
            "providers": len(self.cast.providers),
            "members": len(self.cast.members),
            "role_grants": len(self.cast.grants),
            "children": len(self.children),
            "guardian_consents": len(self.consents),
            "needs": len(self.needs),
        }

    def summary(self) -> DemoSummary:
        open_needs = Counter(
            row["region_code"][:6] for row in self.needs if row["status"] is NeedStatus.OPEN
        )
        sample = open_needs.most_common(1)[0][0] if open_needs else self.tree.counties[0].code
        return DemoSummary(
            regions=len(self.regions),
            providers=len(self.cast.providers),
            members=tuple(self.cast.demo_members),
            children=len(self.children),
            needs=len(self.needs),
            sample_county=sample,
        )


def build_dataset(
    rng: random.Random, *, id_hash_key: bytes, children: int, now: datetime
) -> Dataset:
    """Every row of the demo, deterministic for a given generator state and moment."""
    tree = build_regions(rng)
    # Log-normal weights: most villages have a handful of children, a few have very many.
    weights = [rng.lognormvariate(0.0, 1.0) for _ in tree.villages]
    busiest: dict[str, tuple[DemoRegion, float]] = {}
    for village, weight in zip(tree.villages, weights, strict=True):
        county = village.code[:6]
        if county not in busiest or weight > busiest[county][1]:
            busiest[county] = (village, weight)
    busy = sorted(busiest.values(), key=lambda pair: -pair[1])
    cast = build_cast(rng, tree, [village for village, _ in busy], now - timedelta(days=540))
    data = Dataset(tree, cast, [_region_row(region) for region in tree.regions])
    builder = _ChildBuilder(rng, data, id_hash_key, now)
    for village in rng.choices(tree.villages, weights, k=children):
        builder.add(village)
    return data


def _region_row(region: DemoRegion) -> Row:
    return {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "parent_code": region.parent_code,
    }


class _ChildBuilder:
    def __init__(self, rng: random.Random, data: Dataset, key: bytes, now: datetime) -> None:
        self.rng = rng
        self.data = data
        self.key = key
        self.now = now
        self.today = now.date()
        self.sequence: Counter[str] = Counter()
        self.id_prefixes: set[str] = set()
        oldest = _years_before(self.today, 18) + timedelta(days=1)
        self.max_days_old = (self.today - oldest).days

    def add(self, village: DemoRegion) -> None:
        rng, county = self.rng, village.code[:6]
        guizhou = county.startswith("52")
        self.sequence[county] += 1
        child_id = new_id(rng)
        # At least 200 days old, so that even the youngest has been apart from a parent for the
        # six months that make a child left behind.
        birth = self.today - timedelta(days=rng.randint(200, self.max_days_old))
        age = _age(birth, self.today)
        sex = Sex.MALE if rng.random() < 0.53 else Sex.FEMALE
        guardianship = rng.choices(_GUARDIANSHIP, _GUARDIANSHIP_WEIGHTS)[0]
        father_away, mother_away = self._absence(guardianship)
        created = self.now - timedelta(days=rng.uniform(130, 480))
        work_city = (
            people.weighted(
                rng, people.GUIZHOU_WORK_CITIES if guizhou else people.JIANGXI_WORK_CITIES
            )
            if rng.random() < 0.95
            else None
        )
        officials = self.data.cast.officials_for(village.code)
        self.data.children.append(
            {
                "id": child_id,
                "code": f"C{county}-{self.sequence[county]:05d}",
                "region_code": village.code,
                "birth_date": birth,
                "sex": sex,
                "guardianship": guardianship,
                "father_away": father_away,
                "mother_away": mother_away,
                "parents_away_since": self._away_since(birth, age),
                "parents_work_location": work_city,
                "school": self._school(village, age),
                "status": ChildStatus.ACTIVE,
                "registered_by_provider_id": self._registrar(village.code),
                "created_at": created,
                "updated_at": created,
            }
        )
        family = people.surname(rng, guizhou=guizhou)
        guardian = self._guardian(guardianship, father_away, family, guizhou)
        self._identity(child_id, village, birth, sex, family, guardian)
        if guardian is not None and rng.random() < _CONSENT_SHARE:
            self._consent(child_id, guardian[1], created)
        self._needs(child_id, village, age, work_city, created, officials)

    def _registrar(self, village_code: str) -> uuid.UUID:
        """Mostly the township's child-protection station, sometimes the county bureau."""
        cast = self.data.cast
        if self.rng.random() < 0.9:
            return cast.township_offices[village_code[:9]]
        return cast.county_bureaus[village_code[:6]]

    def _absence(self, guardianship: Guardianship) -> tuple[bool, bool]:
        roll = self.rng.random()
        if guardianship is Guardianship.ONE_PARENT:
            return (True, False) if roll < 0.75 else (False, True)
        if roll < 0.85:
            return True, True
        return (True, False) if roll < 0.95 else (False, True)

    def _away_since(self, birth: date, age: int) -> date | None:
        if self.rng.random() < 0.05:
            return None
        earliest = max(birth, self.today - timedelta(days=365 * min(age, 12)))
        latest = self.today - timedelta(days=183)
        return earliest + timedelta(days=self.rng.randint(0, max((latest - earliest).days, 0)))

    def _school(self, village: DemoRegion, age: int) -> str | None:
        township = self.data.tree.names[village.code[:9]]
        county = self.data.tree.names[village.code[:6]]
        if age < 3:
            return None
        if age < 6:
            return f"{township}中心幼儿园" if self.rng.random() < 0.7 else None
        if age < 12:
            return f"{township}中心小学"
        if age < 15:
            return f"{township}中学" if self.rng.random() < 0.6 else f"{county}第二中学"
        roll = self.rng.random()
        if roll < 0.55:
            return f"{county}第一中学"
        return f"{county}职业中学" if roll < 0.8 else None

    def _guardian(
        self, guardianship: Guardianship, father_away: bool, family: str, guizhou: bool
    ) -> tuple[str, str] | None:
        """The guardian's name and relation to the child, or None when there is nobody."""
        rng = self.rng

        def other() -> str:
            return people.surname(rng, guizhou=guizhou)

        match guardianship:
            case Guardianship.GRANDPARENTS:
                relation = rng.choices(("祖母", "祖父", "外祖母", "外祖父"), (45, 30, 15, 10))[0]
                male = relation.endswith("父")
                name = (family if relation == "祖父" else other()) + people.elder_given_name(
                    rng, male=male
                )
            case Guardianship.RELATIVE:
                relation = rng.choice(("伯父", "叔叔", "姑姑", "舅舅", "姨妈"))
                male = relation in ("伯父", "叔叔", "舅舅")
                surname = family if relation in ("伯父", "叔叔", "姑姑") else other()
                name = surname + people.adult_given_name(rng, male=male)
            case Guardianship.ENTRUSTED:
                relation = rng.choice(("受委托邻居", "受委托亲友"))
                name = people.adult_name(rng, guizhou=guizhou)
            case Guardianship.ONE_PARENT:
                relation = "母亲" if father_away else "父亲"
                surname = other() if father_away else family
                name = surname + people.adult_given_name(rng, male=not father_away)
            case _:
                return None
        return name, relation

    def _identity(
        self,
        child_id: uuid.UUID,
        village: DemoRegion,
        birth: date,
        sex: Sex,
        family: str,
        guardian: tuple[str, str] | None,
    ) -> None:
        rng, county = self.rng, village.code[:6]
        while True:
            number = people.id_number(county, birth, people.id_sequence(rng, sex))
            if number[:17] not in self.id_prefixes:
                self.id_prefixes.add(number[:17])
                break
        full_name = family + people.child_given_name(rng, sex)
        address = f"{self.data.tree.full_name(village.code)}{rng.randint(1, 12)}组"
        self.data.identities.append(
            {
                "child_id": child_id,
                "full_name": full_name,
                "name_pinyin": people.name_pinyin(full_name),
                "id_number_hash": parse_id_number(number).keyed_hash(self.key),
                "id_number_tail": number[-4:],
                "address": f"{address}{rng.randint(1, 80)}号",
                "guardian_name": guardian[0] if guardian else None,
                "guardian_relation": guardian[1] if guardian else None,
                "guardian_phone": people.mobile_number(rng) if guardian else None,
            }
        )

    def _consent(self, child_id: uuid.UUID, given_by: str, registered: datetime) -> None:
        rng = self.rng
        given = registered + timedelta(days=rng.uniform(0, 30))
        withdrawn = (
            given + (self.now - given) * rng.uniform(0.2, 0.9) if rng.random() < 0.04 else None
        )
        self.data.consents.append(
            {
                "id": new_id(rng),
                "child_id": child_id,
                "scope": ConsentScope.IDENTITY,
                "given_by": given_by,
                "method": ConsentMethod.WRITTEN,
                "given_at": given,
                "withdrawn_at": withdrawn,
                "recorded_at": given + timedelta(hours=rng.uniform(0, 48)),
            }
        )

    def _needs(
        self,
        child_id: uuid.UUID,
        village: DemoRegion,
        age: int,
        work_city: str | None,
        registered: datetime,
        officials: list[uuid.UUID],
    ) -> None:
        rng = self.rng
        for drawn in draw_needs(rng, age, work_city):
            created = max(self.now - _NEEDS_WINDOW * rng.random(), registered)
            cancelled = rng.random() < 0.07
            touched = cancelled or rng.random() < 0.2
            updated = created + (self.now - created) * rng.random() if touched else created
            due = created.date() + timedelta(days=rng.randint(14, 120))
            self.data.needs.append(
                {
                    "id": new_id(rng),
                    "child_id": child_id,
                    "region_code": village.code,
                    "category": drawn.category,
                    "urgency": drawn.urgency,
                    "description": drawn.description,
                    "quantity": drawn.quantity,
                    "unit": drawn.unit,
                    "status": NeedStatus.CANCELLED if cancelled else NeedStatus.OPEN,
                    "due_date": due if rng.random() < 0.35 else None,
                    "cancel_reason": rng.choice(CANCEL_REASONS) if cancelled else None,
                    "opened_by_provider_id": rng.choice(officials),
                    "created_at": created,
                    "updated_at": updated,
                    "version": 2 if touched else 1,
                }
            )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
