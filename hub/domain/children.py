"""Children in the register: reading them within one's reach, registering and updating them."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from pypinyin import lazy_pinyin
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for, may
from hub.auth.principal import Principal
from hub.db.arrays import any_of
from hub.db.models import Child, ChildIdentity, GuardianConsent, Need, Region
from hub.domain import audit, idempotency
from hub.domain.clock import today, utcnow
from hub.domain.errors import DomainError, Forbidden, InvalidInput, NotFound, StaleVersion
from hub.domain.id_numbers import parse_id_number
from hub.domain.jurisdiction import checked_prefix, narrow, within
from hub.domain.pagination import Page, PageRequest, make_page, text_value, typed_key
from hub.domain.visibility import (
    Tier,
    actively_claimed,
    age_band,
    age_on,
    tier_for,
    visible_region,
)
from hub.vocabulary import ChildStatus, ConsentScope, Guardianship, NeedStatus, RegionLevel, Sex

CURSOR_KIND = "child"


class DuplicateChild(DomainError):
    code = "DUPLICATE_CHILD"


@dataclass(frozen=True)
class ChildView:
    """A child as one principal may see it: case detail is None unless their tier allows it."""

    id: uuid.UUID
    code: str
    region_code: str
    county_code: str
    age_band: str
    status: ChildStatus
    version: int
    created_at: datetime
    updated_at: datetime
    tier: Tier
    birth_date: date | None = None
    sex: Sex | None = None
    guardianship: Guardianship | None = None
    father_away: bool | None = None
    mother_away: bool | None = None
    parents_away_since: date | None = None
    parents_work_location: str | None = None
    school: str | None = None


def view_of(
    child: Child, principal: Principal, claimed: Collection[uuid.UUID] = frozenset()
) -> ChildView:
    """``claimed``: children the principal's provider actively claims (see ``actively_claimed``)."""
    tier = tier_for(principal, child.region_code, claimant=child.id in claimed)
    view = ChildView(
        id=child.id,
        code=child.code,
        region_code=visible_region(child.region_code, tier),
        county_code=child.region_code[:6],
        age_band=age_band(child.birth_date, today()),
        status=child.status,
        version=child.version,
        created_at=child.created_at,
        updated_at=child.updated_at,
        tier=tier,
    )
    if not tier.case_detail:
        return view
    return replace(
        view,
        birth_date=child.birth_date,
        sex=child.sex,
        guardianship=child.guardianship,
        father_away=child.father_away,
        mother_away=child.mother_away,
        parents_away_since=child.parents_away_since,
        parents_work_location=child.parents_work_location,
        school=child.school,
    )


@dataclass(frozen=True)
class ChildFilter:
    jurisdiction: str | None = None
    guardianships: tuple[Guardianship, ...] = ()
    with_open_needs: bool | None = None


def readable(principal: Principal) -> ColumnElement[bool]:
    """Children in the principal's reach: the condition ``children_by_ids`` reads by, shared
    with the compiled needs page (``hub.fast_path``), which joins the page's children."""
    return within(Child.region_code, jurisdictions_for(principal, Permission.READ_REGISTER))


async def children_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ChildView]:
    """The children among ``ids`` that the principal may see; the rest simply are not there."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (
        await session.scalars(select(Child).where(any_of(Child.id, wanted), readable(principal)))
    ).all()
    claimed = await actively_claimed(session, principal, ((c.id, c.region_code) for c in rows))
    return {child.id: view_of(child, principal, claimed) for child in rows}


async def list_children(
    session: AsyncSession, principal: Principal, where: ChildFilter, page: PageRequest
) -> Page[ChildView]:
    requested = checked_prefix(principal, Permission.READ_REGISTER, where.jurisdiction)
    prefixes = narrow(jurisdictions_for(principal, Permission.READ_REGISTER), requested)
    query = select(Child).where(within(Child.region_code, prefixes))
    if where.guardianships:
        # Guardianship is case detail: filtering by it is only for those who may see it.
        if not may(principal, Permission.READ_CASE_DETAIL):
            raise Forbidden("filtering by guardianship needs access to case detail")
        case_prefixes = jurisdictions_for(principal, Permission.READ_CASE_DETAIL)
        query = query.where(
            Child.guardianship.in_(where.guardianships), within(Child.region_code, case_prefixes)
        )
    if where.with_open_needs is not None:
        has_open = exists().where(Need.child_id == Child.id, Need.status == NeedStatus.OPEN)
        query = query.where(has_open if where.with_open_needs else ~has_open)
    if page.after is not None:
        (code,) = typed_key(page.after, text_value)
        query = query.where(Child.code > code)
    rows = (await session.scalars(query.order_by(Child.code).limit(page.first + 1))).all()
    claimed = await actively_claimed(session, principal, ((c.id, c.region_code) for c in rows))
    views = [view_of(child, principal, claimed) for child in rows]
    return make_page(views, page, CURSOR_KIND, lambda view: (view.code,))


# --- writes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityInput:
    full_name: str
    id_number: str | None = None
    address: str | None = None
    guardian_name: str | None = None
    guardian_relation: str | None = None
    guardian_phone: str | None = None


@dataclass(frozen=True)
class ConsentInput:
    covers: tuple[ConsentScope, ...]
    given_by: str
    given_at: datetime


@dataclass(frozen=True)
class NewChild:
    region_code: str
    birth_date: date
    guardianship: Guardianship
    father_away: bool
    mother_away: bool
    identity: IdentityInput
    sex: Sex | None = None
    parents_away_since: date | None = None
    parents_work_location: str | None = None
    school: str | None = None
    consent: ConsentInput | None = None


@dataclass(frozen=True)
class ChildPatch:
    """Fields to change; a field left out of ``changes`` keeps its value."""

    id: uuid.UUID
    version: int
    changes: dict[str, Any] = field(default_factory=dict)
    identity_changes: dict[str, Any] = field(default_factory=dict)


CASE_FIELDS = (
    "region_code",
    "sex",
    "guardianship",
    "father_away",
    "mother_away",
    "parents_away_since",
    "parents_work_location",
    "school",
)
IDENTITY_FIELDS = (
    "full_name",
    "address",
    "guardian_name",
    "guardian_relation",
    "guardian_phone",
)
TEXT_LIMITS = {
    "full_name": 100,
    "address": 500,
    "guardian_name": 100,
    "guardian_relation": 50,
    "guardian_phone": 30,
    "parents_work_location": 200,
    "school": 200,
}


def _check_text(name: str, value: str | None, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required", field=name)
        return None
    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidInput(f"{name} must not be empty", field=name)
    if len(cleaned) > TEXT_LIMITS[name]:
        raise InvalidInput(f"{name} has at most {TEXT_LIMITS[name]} characters", field=name)
    return cleaned or None


def _check_household(
    *,
    birth_date: date,
    guardianship: Guardianship,
    father_away: bool,
    mother_away: bool,
    parents_away_since: date | None,
    registering: bool,
) -> None:
    now = today()
    if birth_date > now:
        raise InvalidInput("the birth date is in the future", field="birthDate")
    if registering and age_on(birth_date, now) >= 18:
        raise InvalidInput("a child is 0 to 17 years old at registration", field="birthDate")
    if not (father_away or mother_away):
        raise InvalidInput(
            "a left-behind child has at least one parent working away", field="fatherAway"
        )
    if guardianship is Guardianship.ONE_PARENT and father_away and mother_away:
        raise InvalidInput(
            "guardianship by one parent needs one parent at home", field="guardianship"
        )
    if parents_away_since is not None and parents_away_since > now:
        raise InvalidInput(
            "the parents' absence cannot start in the future", field="parentsAwaySince"
        )


def _check_phone(phone: str | None) -> None:
    if (
        phone is not None
        and not phone.replace("+", "", 1).replace("-", "").replace(" ", "").isdigit()
    ):
        raise InvalidInput("a phone number has digits only", field="guardianPhone")


async def _village(session: AsyncSession, principal: Principal, region_code: str) -> Region:
    region = await session.get(Region, region_code)
    if region is None or region.level is not RegionLevel.VILLAGE:
        raise InvalidInput("a child lives in an existing village-level region", field="regionCode")
    if not may(principal, Permission.WRITE_REGISTER, region_code):
        raise Forbidden("registering children there is outside your jurisdiction")
    return region


def _child_code(region_code: str) -> str:
    return f"C{region_code[:6]}-{secrets.token_hex(4).upper()}"


def _pinyin(name: str) -> str:
    return " ".join(lazy_pinyin(name)).lower()


async def register_child(
    session: AsyncSession,
    principal: Principal,
    data: NewChild,
    *,
    id_hash_key: bytes,
    idempotency_key: str | None = None,
) -> ChildView:
    if not may(principal, Permission.WRITE_REGISTER):
        raise Forbidden("registering children is for officials")
    if idempotency_key is not None:
        replay = await idempotency.claim_key(
            session, principal, idempotency_key, "registerChild", _fingerprint_of(data)
        )
        if replay is not None:
            return await _replayed_child(session, principal, replay.result_id)
    await _village(session, principal, data.region_code)
    _check_household(
        birth_date=data.birth_date,
        guardianship=data.guardianship,
        father_away=data.father_away,
        mother_away=data.mother_away,
        parents_away_since=data.parents_away_since,
        registering=True,
    )
    identity = data.identity
    full_name = _check_text("full_name", identity.full_name, required=True)
    assert full_name is not None
    _check_phone(identity.guardian_phone)
    id_hash = id_tail = None
    if identity.id_number:
        try:
            number = parse_id_number(identity.id_number)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="idNumber") from exc
        if number.birth_date != data.birth_date:
            raise InvalidInput(
                "the ID number's birth date differs from birthDate", field="idNumber"
            )
        id_hash, id_tail = number.keyed_hash(id_hash_key), number.tail
    if data.consent is not None:
        _check_consent(data.consent)

    child = Child(
        id=uuid.uuid4(),
        code=_child_code(data.region_code),
        region_code=data.region_code,
        birth_date=data.birth_date,
        sex=data.sex,
        guardianship=data.guardianship,
        father_away=data.father_away,
        mother_away=data.mother_away,
        parents_away_since=data.parents_away_since,
        parents_work_location=_check_text("parents_work_location", data.parents_work_location),
        school=_check_text("school", data.school),
        registered_by_provider_id=principal.provider_id,
    )
    session.add(child)
    session.add(
        ChildIdentity(
            child_id=child.id,
            full_name=full_name,
            name_pinyin=_pinyin(full_name),
            id_number_hash=id_hash,
            id_number_tail=id_tail,
            address=_check_text("address", identity.address),
            guardian_name=_check_text("guardian_name", identity.guardian_name),
            guardian_relation=_check_text("guardian_relation", identity.guardian_relation),
            guardian_phone=_check_text("guardian_phone", identity.guardian_phone),
        )
    )
    if data.consent is not None:
        session.add_all(
            GuardianConsent(
                child_id=child.id,
                scope=scope,
                given_by=data.consent.given_by.strip(),
                given_at=data.consent.given_at,
                recorded_by_provider_id=principal.provider_id,
                recorded_by_member_id=principal.member_id,
            )
            for scope in dict.fromkeys(data.consent.covers)
        )
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_child_identities_id_number_hash" in str(exc.orig):
            raise DuplicateChild("a child with this ID number is already registered") from exc
        raise
    audit.record(
        session,
        principal,
        "child.registered",
        "child",
        child.id,
        {"code": child.code, "region_code": child.region_code, "consent": data.consent is not None},
        region_code=child.region_code,
    )
    if idempotency_key is not None:
        await idempotency.remember_result(session, principal, idempotency_key, child.id)
    await session.refresh(child)
    return view_of(child, principal)


def _check_consent(consent: ConsentInput) -> None:
    if not consent.covers:
        raise InvalidInput("a consent covers at least one use", field="consent.covers")
    if not consent.given_by.strip():
        raise InvalidInput("say who gave the consent", field="consent.givenBy")
    if consent.given_at > utcnow():
        raise InvalidInput("a consent cannot be given in the future", field="consent.givenAt")


def _fingerprint_of(data: NewChild) -> dict[str, Any]:
    # The ID number is part of the request's identity but must not be stored: hash it away.
    fingerprint = {k: v for k, v in data.__dict__.items() if k != "identity"}
    fingerprint["identity"] = {
        k: (idempotency.request_fingerprint("id", {"n": v}) if k == "id_number" and v else v)
        for k, v in data.identity.__dict__.items()
    }
    return fingerprint


async def _replayed_child(session: AsyncSession, principal: Principal, child_id: str) -> ChildView:
    child = await session.get(Child, uuid.UUID(child_id))
    if child is None:
        raise NotFound("the child created by the first request no longer exists")
    return view_of(child, principal)


async def _locked_child(session: AsyncSession, principal: Principal, child_id: uuid.UUID) -> Child:
    """The child row, locked for update, if the principal may write it; else NOT_FOUND."""
    readable = jurisdictions_for(principal, Permission.READ_REGISTER)
    child = await session.scalar(
        select(Child)
        .where(Child.id == child_id, within(Child.region_code, readable))
        .with_for_update()
    )
    if child is None:
        raise NotFound("no such child")
    if not may(principal, Permission.WRITE_REGISTER, child.region_code):
        raise Forbidden("changing this child's record is for officials of its region")
    return child


async def update_child(session: AsyncSession, principal: Principal, patch: ChildPatch) -> ChildView:
    child = await _locked_child(session, principal, patch.id)
    if child.version != patch.version:
        raise StaleVersion("the child was changed since you read it", current_version=child.version)
    changes = dict(patch.changes)
    unknown = set(changes) - set(CASE_FIELDS)
    if unknown or set(patch.identity_changes) - set(IDENTITY_FIELDS):
        raise InvalidInput(f"these fields cannot be changed: {sorted(unknown)}")
    if "region_code" in changes and changes["region_code"] != child.region_code:
        await _village(session, principal, changes["region_code"])
    for name in ("parents_work_location", "school"):
        if name in changes:
            changes[name] = _check_text(name, changes[name])
    for name in ("guardianship", "father_away", "mother_away"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be cleared", field=name)
    merged = {name: changes.get(name, getattr(child, name)) for name in CASE_FIELDS}
    _check_household(
        birth_date=child.birth_date,
        guardianship=merged["guardianship"],
        father_away=merged["father_away"],
        mother_away=merged["mother_away"],
        parents_away_since=merged["parents_away_since"],
        registering=False,
    )
    identity_changes = {
        name: _check_text(name, value, required=name == "full_name")
        for name, value in patch.identity_changes.items()
    }
    _check_phone(identity_changes.get("guardian_phone"))
    if not changes and not identity_changes:
        raise InvalidInput("nothing to change")

    for name, value in changes.items():
        setattr(child, name, value)
    if identity_changes:
        identity = await session.get(ChildIdentity, child.id, with_for_update=True)
        if identity is None:
            raise NotFound("the child has no identity record")
        for name, value in identity_changes.items():
            setattr(identity, name, value)
        new_name = identity_changes.get("full_name")
        if new_name:
            identity.name_pinyin = _pinyin(new_name)
    if "region_code" in changes:
        # Needs carry the child's village for jurisdiction filters; keep them with the child.
        for need in await session.scalars(select(Need).where(Need.child_id == child.id)):
            need.region_code = child.region_code
    child.version += 1
    child.updated_at = utcnow()
    audit.record(
        session,
        principal,
        "child.updated",
        "child",
        child.id,
        {
            "version": child.version,
            "changes": {name: str(value) for name, value in changes.items()},
            # Identity values stay out of the audit log: it records that they changed, not to what.
            "identity_fields": sorted(identity_changes),
        },
        region_code=child.region_code,
    )
    await session.flush()
    return view_of(child, principal)
