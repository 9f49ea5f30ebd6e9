"""A small, known world for tests: two counties of one city, providers in each, and members.

Region codes are real (Ganzhou, Jiangxi). Each member acts for one provider, so a test names
who acts by login alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import Member, Provider, Region, RoleGrant
from hub.vocabulary import NeedCategory, ProviderKind, RegionLevel, Role

PROVINCE = "36"
CITY = "3607"
COUNTY = "360721"  # Gan county
OTHER_COUNTY = "360732"  # Xingguo county
TOWNSHIP = "360721101"
VILLAGE = "360721101201"
OTHER_VILLAGE_SAME_TOWNSHIP = "360721101202"
FOREIGN_VILLAGE = "360732105201"

REGIONS = [
    ("36", "江西省", RegionLevel.PROVINCE, None),
    ("3607", "赣州市", RegionLevel.CITY, "36"),
    ("360721", "赣县区", RegionLevel.COUNTY, "3607"),
    ("360732", "兴国县", RegionLevel.COUNTY, "3607"),
    ("360721101", "江口镇", RegionLevel.TOWNSHIP, "360721"),
    ("360732105", "长冈乡", RegionLevel.TOWNSHIP, "360732"),
    ("360721101201", "旱江村", RegionLevel.VILLAGE, "360721101"),
    ("360721101202", "优良村", RegionLevel.VILLAGE, "360721101"),
    ("360732105201", "塘石村", RegionLevel.VILLAGE, "360732105"),
]


@dataclass
class World:
    providers: dict[str, uuid.UUID] = field(default_factory=dict)
    members: dict[str, uuid.UUID] = field(default_factory=dict)


# login -> (provider key, role, jurisdiction)
MEMBERS = {
    "officer": ("gan_bureau", Role.GOVERNMENT_OFFICER, COUNTY),
    "director": ("village_office", Role.CHILD_DIRECTOR, TOWNSHIP),
    "ngo": ("ngo", Role.COORDINATOR, COUNTY),
    "ngo_worker": ("ngo", Role.WORKER, COUNTY),
    "business": ("business", Role.WORKER, COUNTY),
    "foreign_officer": ("xing_bureau", Role.GOVERNMENT_OFFICER, OTHER_COUNTY),
    "foreign_ngo": ("xing_ngo", Role.COORDINATOR, OTHER_COUNTY),
    "admin": ("operations", Role.PLATFORM_ADMIN, PROVINCE),
    "auditor": ("gan_bureau", Role.AUDITOR, COUNTY),
}

PROVIDERS = {
    "gan_bureau": ("赣县区民政局", ProviderKind.GOVERNMENT, [COUNTY]),
    "xing_bureau": ("兴国县民政局", ProviderKind.GOVERNMENT, [OTHER_COUNTY]),
    "village_office": ("江口镇儿童之家", ProviderKind.VILLAGE_OFFICE, [TOWNSHIP]),
    "ngo": ("春苗助学会", ProviderKind.NGO, [CITY]),
    "xing_ngo": ("兴国互助社", ProviderKind.NGO, [OTHER_COUNTY]),
    "business": ("赣南制衣厂", ProviderKind.BUSINESS, [COUNTY]),
    "operations": ("Hub platform operations", ProviderKind.GOVERNMENT, [PROVINCE]),
}


async def build_world(engine: AsyncEngine) -> World:
    world = World()
    async with engine.begin() as connection:
        await connection.execute(
            insert(Region),
            [
                {"code": code, "name": name, "level": level, "parent_code": parent}
                for code, name, level, parent in REGIONS
            ],
        )
        for key, (name, kind, jurisdictions) in PROVIDERS.items():
            world.providers[key] = uuid.uuid4()
            await connection.execute(
                insert(Provider).values(
                    id=world.providers[key],
                    name=name,
                    kind=kind,
                    jurisdictions=jurisdictions,
                    categories=list(NeedCategory),
                )
            )
        for login, (provider_key, role, jurisdiction) in MEMBERS.items():
            world.members[login] = uuid.uuid4()
            await connection.execute(
                insert(Member).values(id=world.members[login], login=login, display_name=login)
            )
            await connection.execute(
                insert(RoleGrant).values(
                    member_id=world.members[login],
                    provider_id=world.providers[provider_key],
                    role=role,
                    jurisdiction=jurisdiction,
                )
            )
    return world


def birth_date_for_age(years: int) -> date:
    today = date.today()
    return (
        date(today.year - years, 1, 15) if today.month > 1 else date(today.year - years - 1, 1, 15)
    )
