"""The demo's providers, the members who act for them, and their role grants.

Every provider kind and every role appears. Each member acts for exactly one provider, so that a
login alone says who is acting; a member whose work spans two provinces holds one grant per
province, because a jurisdiction is one prefix and the empty prefix is not allowed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.demo.people import adult_name, name_pinyin
from hub.demo.regions import CITIES, CITY_SLUGS, PROVINCES, County, Region, RegionTree
from hub.vocabulary import NeedCategory, ProviderKind, Role

Row = dict[str, Any]

_ALL = tuple(NeedCategory)
_OFFICE = (
    NeedCategory.SAFETY,
    NeedCategory.FAMILY_CONTACT,
    NeedCategory.MATERIAL,
    NeedCategory.LEGAL,
    NeedCategory.AFTER_SCHOOL_CARE,
)
_SCHOOL = (NeedCategory.EDUCATION, NeedCategory.AFTER_SCHOOL_CARE, NeedCategory.PSYCHOLOGICAL)


@dataclass(frozen=True)
class DemoMember:
    login: str
    provider_name: str
    provider_id: uuid.UUID
    provider_kind: ProviderKind
    role: Role
    # The member's first grant; a member working in both provinces holds a second one.
    jurisdiction: str


def new_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@dataclass
class Cast:
    """Rows for providers, members and grants, and who in each area may open a case."""

    rng: random.Random
    since: datetime
    providers: list[Row] = field(default_factory=list)
    members: list[Row] = field(default_factory=list)
    grants: list[Row] = field(default_factory=list)
    demo_members: list[DemoMember] = field(default_factory=list)
    county_bureaus: dict[str, uuid.UUID] = field(default_factory=dict)
    township_offices: dict[str, uuid.UUID] = field(default_factory=dict)
    village_offices: dict[str, uuid.UUID] = field(default_factory=dict)
    _by_id: dict[uuid.UUID, Row] = field(default_factory=dict)

    def officials_for(self, village_code: str) -> list[uuid.UUID]:
        """Village office (if any), township office and county bureau covering a village."""
        found = [self.village_offices.get(village_code)]
        found += [
            self.township_offices.get(village_code[:9]),
            self.county_bureaus[village_code[:6]],
        ]
        return [provider for provider in found if provider is not None]

    def provider(
        self,
        name: str,
        kind: ProviderKind,
        jurisdictions: Sequence[str],
        categories: Sequence[NeedCategory],
    ) -> uuid.UUID:
        provider_id = new_id(self.rng)
        row: Row = {
            "id": provider_id,
            "name": name,
            "kind": kind,
            "jurisdictions": list(jurisdictions),
            "categories": list(categories),
            "created_at": self.since,
            "updated_at": self.since,
        }
        self.providers.append(row)
        self._by_id[provider_id] = row
        return provider_id

    def member(
        self,
        login: str,
        provider_id: uuid.UUID,
        role: Role,
        jurisdictions: Sequence[str],
        display_name: str | None = None,
    ) -> None:
        provider = self._by_id[provider_id]
        if any(m.login == login for m in self.demo_members):
            login = f"{login}.{len(self.demo_members)}"
        member_id = new_id(self.rng)
        self.members.append(
            {
                "id": member_id,
                "login": login,
                "display_name": display_name or adult_name(self.rng),
                "created_at": self.since,
            }
        )
        for jurisdiction in jurisdictions:
            self.grants.append(
                {
                    "id": new_id(self.rng),
                    "member_id": member_id,
                    "provider_id": provider_id,
                    "role": role,
                    "jurisdiction": jurisdiction,
                    "granted_at": self.since,
                }
            )
        self.demo_members.append(
            DemoMember(
                login, provider["name"], provider_id, provider["kind"], role, jurisdictions[0]
            )
        )


def build_cast(
    rng: random.Random, tree: RegionTree, busy_villages: Sequence[Region], since: datetime
) -> Cast:
    """Providers of every kind and members holding every role.

    ``busy_villages`` (one per county, most children first) get their own village committees.
    """
    cast = Cast(rng, since)
    provinces = sorted(PROVINCES)
    operations = cast.provider("Hub platform operations", ProviderKind.GOVERNMENT, provinces, ())
    cast.member("platform.admin", operations, Role.PLATFORM_ADMIN, provinces, "平台管理员")
    _government(cast, tree)
    _offices(cast, tree, busy_villages)
    _schools(cast, tree)
    _civil_society(cast)
    return cast


def _government(cast: Cast, tree: RegionTree) -> None:
    for city, name in CITIES.items():
        bureau = cast.provider(f"{name}民政局", ProviderKind.GOVERNMENT, [city], _ALL)
        cast.member(f"officer.{CITY_SLUGS[city]}", bureau, Role.GOVERNMENT_OFFICER, [city])
        cast.member(f"auditor.{CITY_SLUGS[city]}", bureau, Role.AUDITOR, [city])
    for county in tree.counties:
        bureau = cast.provider(f"{county.name}民政局", ProviderKind.GOVERNMENT, [county.code], _ALL)
        cast.county_bureaus[county.code] = bureau
        cast.member(f"officer.{county.slug}", bureau, Role.GOVERNMENT_OFFICER, [county.code])


def _offices(cast: Cast, tree: RegionTree, busy_villages: Sequence[Region]) -> None:
    seats = {_seat(tree, county).code for county in tree.counties}
    for township in tree.townships:
        county = tree.county_of(township.code)
        office = cast.provider(
            f"{county.name}{township.name}未成年人保护工作站",
            ProviderKind.VILLAGE_OFFICE,
            [township.code],
            _OFFICE,
        )
        cast.township_offices[township.code] = office
        if township.code in seats:
            login = f"director.{_slug(township.name)}"
            cast.member(login, office, Role.CHILD_DIRECTOR, [township.code])
    for rank, village in enumerate(busy_villages):
        office = cast.provider(
            f"{tree.names[village.code[:9]]}{village.name}村民委员会",
            ProviderKind.VILLAGE_OFFICE,
            [village.code],
            _OFFICE,
        )
        cast.village_offices[village.code] = office
        # Two village-level directors are enough to show a jurisdiction of one village.
        if rank < 2:
            cast.member(
                f"director.{_slug(village.name)}", office, Role.CHILD_DIRECTOR, [village.code]
            )


def _schools(cast: Cast, tree: RegionTree) -> None:
    for county in tree.counties:
        seat = _seat(tree, county)
        school = cast.provider(
            f"{county.name}{seat.name}中心小学", ProviderKind.SCHOOL, [seat.code], _SCHOOL
        )
        if county.slug == "xingguo":
            cast.member("school.admin", school, Role.PROVIDER_ADMIN, [seat.code])
            cast.member("school.coordinator", school, Role.COORDINATOR, [seat.code])
            cast.member("teacher.xingguo", school, Role.WORKER, [seat.code])


def _civil_society(cast: Cast) -> None:
    both = sorted(PROVINCES)
    ngo = cast.provider(
        "童伴同行公益基金会",
        ProviderKind.NGO,
        both,
        (
            NeedCategory.PSYCHOLOGICAL,
            NeedCategory.EDUCATION,
            NeedCategory.AFTER_SCHOOL_CARE,
            NeedCategory.FAMILY_CONTACT,
            NeedCategory.SAFETY,
        ),
    )
    cast.member("ngo.admin", ngo, Role.PROVIDER_ADMIN, both)
    cast.member("ngo.coordinator", ngo, Role.COORDINATOR, ["3607"])
    cast.member("ngo.worker", ngo, Role.WORKER, ["360732"])

    chunmiao = cast.provider(
        "春苗儿童关爱中心",
        ProviderKind.NGO,
        ["36"],
        (NeedCategory.MATERIAL, NeedCategory.FINANCIAL, NeedCategory.EDUCATION),
    )
    cast.member("chunmiao.coordinator", chunmiao, Role.COORDINATOR, ["36"])

    wumeng = cast.provider(
        "乌蒙山区儿童服务中心",
        ProviderKind.NGO,
        ["52"],
        (NeedCategory.MATERIAL, NeedCategory.MEDICAL, NeedCategory.FINANCIAL, NeedCategory.SAFETY),
    )
    cast.member("wumeng.coordinator", wumeng, Role.COORDINATOR, ["5205"])
    cast.member("wumeng.worker", wumeng, Role.WORKER, ["520526"])

    legal = cast.provider(
        "赣南未成年人法律援助中心",
        ProviderKind.NGO,
        ["3607"],
        (NeedCategory.LEGAL, NeedCategory.SAFETY),
    )
    cast.member("legalaid.coordinator", legal, Role.COORDINATOR, ["3607"])

    business = cast.provider(
        "赣州绿源果业有限公司",
        ProviderKind.BUSINESS,
        ["3607"],
        (NeedCategory.MATERIAL, NeedCategory.FINANCIAL),
    )
    cast.member("business.admin", business, Role.PROVIDER_ADMIN, ["3607"])
    cast.member("business.coordinator", business, Role.COORDINATOR, ["3607"])
    cast.member("business.worker", business, Role.WORKER, ["360704"])

    group = cast.provider(
        "毕节大学生支教志愿队",
        ProviderKind.VOLUNTEER_GROUP,
        ["5205"],
        (NeedCategory.EDUCATION, NeedCategory.AFTER_SCHOOL_CARE, NeedCategory.FAMILY_CONTACT),
    )
    cast.member("volunteers.lead", group, Role.PROVIDER_ADMIN, ["5205"])
    cast.member("volunteers.member", group, Role.WORKER, ["520521"])

    person = cast.provider(
        "陈静（个人志愿者）",
        ProviderKind.INDIVIDUAL,
        ["360732"],
        (NeedCategory.AFTER_SCHOOL_CARE, NeedCategory.PSYCHOLOGICAL),
    )
    cast.member("volunteer.chenjing", person, Role.PROVIDER_ADMIN, ["360732"], "陈静")


def _seat(tree: RegionTree, county: County) -> Region:
    """The county's first township, which the region tree always includes."""
    return next(t for t in tree.townships if t.parent_code == county.code)


def _slug(name: str) -> str:
    """Ascii login part from a place name, without its 镇/乡/村 suffix."""
    stem = name[:-1] if name[-1] in "镇乡村" else name
    return name_pinyin(stem).replace(" ", "")
