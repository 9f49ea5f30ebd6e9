"""Tiers of personal data (DESIGN rule 3), decided once per record for one principal.

Pseudonymous facts go to any provider working in the area; case detail to officials and to a
provider with an active claim on the child; identity to officials of the jurisdiction, and
to a non-government provider whose active claim needs it where the guardian consented - which
only the identity read itself can tell (``hub.domain.identity``), so the tier says "maybe".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.arrays import any_of_parameter
from hub.db.models import Child, Claim, Need
from hub.domain.jurisdiction import COUNTY_CODE_LENGTH
from hub.domain.ledger import effectively_active


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


# Within one read-only request: whether the principal's provider actively claims each child
# asked about so far. A page asks for the same children three times (needs, children, claims);
# the answer cannot change while nothing is written, so the database is asked once.
_claimed_memo: ContextVar[dict[uuid.UUID, bool] | None] = ContextVar("claimed_memo", default=None)


@contextmanager
def claimant_memo() -> Iterator[None]:
    """Remember ``actively_claimed`` answers until the block ends. Only for work that writes
    nothing: a claim made inside the block would not be seen."""
    token = _claimed_memo.set({})
    try:
        yield
    finally:
        # An operation abandoned half-way (a timeout, a client gone) has its block closed
        # later, by the garbage collector, in whatever context is current then: there is
        # nothing to undo, since the context the memo lived in ended with its request.
        with suppress(ValueError):
            _claimed_memo.reset(token)


def claimed_by(provider_id: Any, child_id: Any) -> ColumnElement[bool]:
    """Whether the provider holds an active claim on a need of the child: the condition
    ``actively_claimed`` reads by, for a statement that asks it of each of its rows (the
    compiled needs page does)."""
    needs_of_child = aliased(Need)
    # For each of the child's needs, one look at its own claims (an index probe by need): a
    # plain join would read every active claim of the provider instead, which grows with the
    # provider's work rather than with the page.
    one_active_claim = (
        select(Claim.id)
        .where(
            Claim.need_id == needs_of_child.id,
            Claim.provider_id == provider_id,
            effectively_active(),
        )
        .limit(1)
        .lateral("active_claim")
    )
    return (
        select(needs_of_child.id)
        .join(one_active_claim, true())
        .where(needs_of_child.child_id == child_id)
        .exists()
    )


def _actively_claimed_statement() -> Select[uuid.UUID]:
    provider_id = bindparam("provider_id", type_=Claim.provider_id.type)
    return select(Child.id).where(
        any_of_parameter(Child.id, "child_ids"), claimed_by(provider_id, Child.id)
    )


# Built once: it is the same for every reader and page, only its parameters differ, and
# building it afresh cost more CPU than PostgreSQL spent running it.
_ACTIVELY_CLAIMED = _actively_claimed_statement()


async def actively_claimed(
    session: AsyncSession,
    principal: Principal,
    children: Iterable[tuple[uuid.UUID, str]],
) -> frozenset[uuid.UUID]:
    """Among ``(child id, region code)`` pairs, the children the principal's provider holds an
    active claim on, in one query, asked only for those whose case detail it could not see
    anyway."""
    if not may(principal, Permission.CLAIM):
        return frozenset()
    # A page's children share a few regions: the policy is asked once per region.
    sees_detail: dict[str, bool] = {}
    wanted = set()
    for child_id, region_code in children:
        detail = sees_detail.get(region_code)
        if detail is None:
            detail = sees_detail[region_code] = may(
                principal, Permission.READ_CASE_DETAIL, region_code
            )
        if not detail:
            wanted.add(child_id)
    memo = _claimed_memo.get()
    unknown = wanted if memo is None else wanted - memo.keys()
    if not unknown:
        return frozenset(child_id for child_id in wanted if memo and memo[child_id])
    connection = await session.connection()  # the Core path: cheaper than the ORM's
    rows = await connection.scalars(
        _ACTIVELY_CLAIMED, {"provider_id": principal.provider_id, "child_ids": list(unknown)}
    )
    claimed = frozenset(rows)
    if memo is None:
        return claimed
    memo.update((child_id, child_id in claimed) for child_id in unknown)
    return frozenset(child_id for child_id in wanted if memo[child_id])


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
