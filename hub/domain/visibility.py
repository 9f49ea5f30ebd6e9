"""Tiers of personal data (DESIGN rule 3), decided once per record for one principal.

Pseudonymous facts go to any provider working in the area; case detail to officials (later also
to a provider with an active claim on the child); identity to officials of the jurisdiction, and
to a non-government provider whose active claim needs it where the guardian consented - which
only the identity read itself can tell (``hub.domain.identity``), so the tier says "maybe".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal


@dataclass(frozen=True)
class Tier:
    case_detail: bool
    identity: bool
    # The identity may be shown through an active claim with the guardian's consent.
    identity_if_claimed: bool = False

    @property
    def may_ask_identity(self) -> bool:
        return self.identity or self.identity_if_claimed


def tier_for(principal: Principal, region_code: str) -> Tier:
    return Tier(
        case_detail=may(principal, Permission.READ_CASE_DETAIL, region_code),
        identity=may(principal, Permission.READ_IDENTITY, region_code),
        identity_if_claimed=may(principal, Permission.READ_CLAIMED_IDENTITY, region_code),
    )


def visible_region(region_code: str, tier: Tier) -> str:
    """The village for those who may see case detail; otherwise only the county."""
    return region_code if tier.case_detail else region_code[:6]


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
