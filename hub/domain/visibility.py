"""Tiers of personal data (DESIGN rule 3), decided once per record for one principal.

Pseudonymous facts go to any provider working in the area; the child's case detail (village,
school, guardianship, parents' absence, birth date) to officials and to a provider with an active
claim on the child; identity to officials of the jurisdiction, and to a non-government provider
whose active claim needs it where the guardian consented - which only the identity read itself
can tell (``hub.domain.identity``), so the tier says "maybe".

The text of each need, and of the claims and deliveries on it, is decided need by need instead,
by ``hub.domain.disclosure``: a claim on one need of a child does not open its other needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.models import Need
from hub.domain.disclosure.statements import holdings, one_active_claim
from hub.domain.jurisdiction import COUNTY_CODE_LENGTH


@dataclass(frozen=True)
class Tier:
    case_detail: bool
    identity: bool
    # The identity may be shown through an active claim with the guardian's consent.
    identity_if_claimed: bool = False

    @property
    def may_ask_identity(self) -> bool:
        return self.identity or self.identity_if_claimed


def tier_for(principal: Principal, region_code: str, *, claimant: bool = False) -> Tier:
    """``claimant``: the principal's provider holds an active claim on the child."""
    return Tier(
        case_detail=claimant or may(principal, Permission.READ_CASE_DETAIL, region_code),
        identity=may(principal, Permission.READ_IDENTITY, region_code),
        identity_if_claimed=may(principal, Permission.READ_CLAIMED_IDENTITY, region_code),
    )


def claimed_by(provider_id: Any, child_id: Any) -> ColumnElement[bool]:
    """Whether the provider holds an active claim on a need of the child: the condition
    ``actively_claimed`` reads by, for a statement that asks it of each of its rows (the
    compiled needs page does)."""
    needs_of_child = aliased(Need)
    return (
        select(needs_of_child.id)
        .join(one_active_claim(provider_id, needs_of_child.id), true())
        .where(needs_of_child.child_id == child_id)
        .exists()
    )


async def actively_claimed(
    session: AsyncSession,
    principal: Principal,
    children: Iterable[tuple[uuid.UUID, str]],
) -> frozenset[uuid.UUID]:
    """Among ``(child id, region code)`` pairs, the children the principal's provider holds an
    active claim on, in one query, asked only for those whose case detail it could not see
    anyway. The same question, and within a query the same answer, as the needs it holds
    (``hub.domain.disclosure.holdings``), which decide what of each need it reads."""
    return (await holdings(session, principal, children)).children


def visible_region(region_code: str, tier: Tier) -> str:
    """The village for those who may see case detail; otherwise only the county."""
    return region_code if tier.case_detail else region_code[:COUNTY_CODE_LENGTH]


AGE_BANDS = ((0, 2, "0-2"), (3, 5, "3-5"), (6, 11, "6-11"), (12, 13, "12-13"), (14, 17, "14-17"))


def age_on(birth_date: date, today: date) -> int:
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def age_band(birth_date: date, today: date) -> str:
    """Coarse enough to be pseudonymous; the 14 boundary matters under PIPL."""
    age = age_on(birth_date, today)
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return "18+"
