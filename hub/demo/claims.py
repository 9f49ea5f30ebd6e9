"""Coordination at work in the demo: claims in every state, made through the hub's own rules.

Every claim, delivery and verification goes through the domain functions a client reaches over
GraphQL, so the demo's needs, pledges, statuses and audit log are exactly what real use would
leave behind. Only the passing of time is simulated, by moving dates back.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.auth.principal import Principal
from hub.auth.principals import member_principal
from hub.db.engine import session_factory
from hub.db.models import Claim, Need, Provider
from hub.domain import claims, deliveries, needs
from hub.domain.rules import CoordinationRules
from hub.domain.sweeper import sweep_once
from hub.vocabulary import ClaimStatus, NeedCategory, NeedStatus, Urgency

# Ganzhou: the NGOs, the business and the city's civil-affairs bureau all work there.
CITY = "3607"
NGO, CHUNMIAO, BUSINESS = "ngo.coordinator", "chunmiao.coordinator", "business.coordinator"
OFFICIAL = "officer.ganzhou"
RULES = CoordinationRules()


@dataclass(frozen=True)
class OpenNeed:
    id: uuid.UUID
    child_id: uuid.UUID
    category: NeedCategory
    quantity: Decimal | None
    created_at: datetime


@dataclass(frozen=True)
class Coordination:
    # Claims per status, by status value.
    claims: dict[str, int]
    # Needs the demo opened on top of the register's, to show overlapping aid.
    needs_opened: int


class _Seeder:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        people: dict[str, Principal],
        served: dict[str, frozenset[NeedCategory]],
        whole: list[OpenNeed],
    ):
        self.sessions = sessions
        self.people = people
        # The categories each claimant's provider serves: a provider claims only those.
        self.served = served
        # Indivisible open needs not yet given to a scene.
        self.rest = list(whole)
        self.keys = 0
        # Keys unique to this seeding: a demo seeded again must not replay an earlier one's.
        self.run = uuid.uuid4().hex[:12]

    def take(self, login: str, prefer: NeedCategory | None = None) -> OpenNeed:
        """The next indivisible need the claimant's provider serves, of ``prefer`` if any."""
        fits = [need for need in self.rest if need.category in self.served[login]]
        found = next((need for need in fits if need.category is prefer), fits[0])
        self.rest.remove(found)
        return found

    def key(self) -> str:
        self.keys += 1
        return f"demo-{self.run}-{self.keys}"

    async def claim(
        self, login: str, need: OpenNeed, quantity: Decimal | None = None, note: str | None = None
    ) -> claims.ClaimView:
        async with self.sessions.begin() as session:
            outcome = await claims.claim_need(
                session,
                self.people[login],
                claims.ClaimRequest(need_id=need.id, quantity=quantity, note=note),
                idempotency_key=self.key(),
                rules=RULES,
            )
        assert isinstance(outcome, claims.Claimed), outcome
        return outcome.claim

    async def deliver(
        self, login: str, claim: claims.ClaimView, need: OpenNeed, text: str
    ) -> deliveries.DeliveryView:
        now = datetime.now(need.created_at.tzinfo)
        async with self.sessions.begin() as session:
            return await deliveries.log_delivery(
                session,
                self.people[login],
                deliveries.NewDelivery(
                    claim_id=claim.id,
                    delivered_at=max(now - timedelta(days=2), need.created_at),
                    description=text,
                    quantity=claim.quantity,
                    evidence="签收单（照片已存档）",
                ),
                idempotency_key=self.key(),
            )

    async def review(self, delivery: deliveries.DeliveryView, reason: str | None = None) -> None:
        async with self.sessions.begin() as session:
            await deliveries.review_delivery(
                session,
                self.people[OFFICIAL],
                delivery.id,
                delivery.version,
                verified=reason is None,
                reason=reason,
            )

    async def end(
        self, login: str, claim: claims.ClaimView, status: ClaimStatus, reason: str
    ) -> None:
        async with self.sessions.begin() as session:
            await claims.end_claim(
                session, self.people[login], claim.id, claim.version, status, reason
            )

    async def age(self, claim: claims.ClaimView, **moved_back: timedelta) -> None:
        """As if the claim had been made (or due) that long ago."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Claim)
                .where(Claim.id == claim.id)
                .values({column: func.now() - delta for column, delta in moved_back.items()})
            )


async def _open_needs(session: AsyncSession) -> list[OpenNeed]:
    rows = await session.execute(
        select(Need.id, Need.child_id, Need.category, Need.quantity, Need.created_at)
        .where(
            Need.status == NeedStatus.OPEN,
            Need.region_code >= CITY,
            Need.region_code < CITY[:-1] + chr(ord(CITY[-1]) + 1),
        )
        .order_by(Need.id)
    )
    return [OpenNeed(*row) for row in rows]


async def seed_coordination(engine: AsyncEngine) -> Coordination:
    """Claims in every state on open needs of Ganzhou.

    Runs after the demo's register is in place; needs too few to show everything are left alone.
    """
    sessions = session_factory(engine)
    async with sessions() as session:
        people = {}
        for login in (NGO, CHUNMIAO, BUSINESS, OFFICIAL):
            principal = await member_principal(session, login)
            if principal is None:
                return Coordination({}, 0)
            people[login] = principal
        served = {
            login: frozenset(await _categories(session, principal))
            for login, principal in people.items()
        }
        open_needs = await _open_needs(session)
    whole = [need for need in open_needs if need.quantity is None]
    # Pledged by the material donors below (the NGO serves neither category).
    shares = [
        need
        for need in open_needs
        if need.quantity is not None and need.category in served[CHUNMIAO] & served[BUSINESS]
    ]
    seeder = _Seeder(sessions, people, served, whole)
    if len(shares) < 3 or not all(_enough(seeder, login) for login in (NGO, CHUNMIAO, BUSINESS)):
        return Coordination({}, 0)
    for story in _stories(seeder, shares):
        await story()
    # The deadline of one claim has passed: the sweeper expires it, as it would in a running hub.
    await sweep_once(sessions)
    async with sessions() as session:
        counts = await session.execute(select(Claim.status, func.count()).group_by(Claim.status))
        return Coordination({status.value: int(count) for status, count in counts}, 1)


async def _categories(session: AsyncSession, principal: Principal) -> list[NeedCategory]:
    found = await session.scalar(
        select(Provider.categories).where(Provider.id == principal.provider_id)
    )
    return list(found or ())


def _enough(seeder: _Seeder, login: str) -> bool:
    """Each claimant takes at most five indivisible needs; six of its categories are plenty."""
    return sum(need.category in seeder.served[login] for need in seeder.rest) >= 6


def _stories(seeder: _Seeder, shares: list[OpenNeed]) -> list[Callable[[], Awaitable[None]]]:
    """One small scene per state a claim or a need can be in, each on a need its claimant's
    provider serves: a safety need first (its claim runs seven days, so it shows as expiring
    soon) and a material one for the overlap (two winter coats for one child)."""

    async def active() -> None:
        need = seeder.take(NGO, NeedCategory.SAFETY)
        await seeder.claim(NGO, need, note="本周六由社工上门")

    async def overdue() -> None:
        need = seeder.take(CHUNMIAO)
        claim = await seeder.claim(CHUNMIAO, need, note="答应月初送到")
        await seeder.age(claim, claimed_at=timedelta(days=15), expected_by=timedelta(days=3))

    async def extended() -> None:
        need = seeder.take(BUSINESS)
        claim = await seeder.claim(BUSINESS, need)
        async with seeder.sessions.begin() as session:
            await claims.extend_claim(
                session,
                seeder.people[BUSINESS],
                claim.id,
                claim.version,
                expected_by=None,
                rules=RULES,
            )

    async def awaiting_verification() -> None:
        need = seeder.take(NGO)
        claim = await seeder.claim(NGO, need)
        await seeder.deliver(NGO, claim, need, "已送达，监护人签收")

    async def fulfilled() -> None:
        need = seeder.take(CHUNMIAO)
        claim = await seeder.claim(CHUNMIAO, need)
        await seeder.review(await seeder.deliver(CHUNMIAO, claim, need, "已送达并当面核对"))
        await seeder.age(claim, claimed_at=timedelta(days=12), ended_at=timedelta(days=1))

    async def disputed() -> None:
        need = seeder.take(BUSINESS)
        claim = await seeder.claim(BUSINESS, need)
        delivery = await seeder.deliver(BUSINESS, claim, need, "已交给村委会转交")
        await seeder.review(delivery, reason="家访时监护人说未收到，请重新核实")

    async def released() -> None:
        need = seeder.take(NGO)
        claim = await seeder.claim(NGO, need)
        await seeder.end(NGO, claim, ClaimStatus.RELEASED, "人手不足，交由其他机构")

    async def failed() -> None:
        need = seeder.take(CHUNMIAO)
        claim = await seeder.claim(CHUNMIAO, need)
        await seeder.end(CHUNMIAO, claim, ClaimStatus.FAILED, "监护人不同意上门服务")

    async def revoked() -> None:
        need = seeder.take(BUSINESS)
        claim = await seeder.claim(BUSINESS, need)
        await seeder.age(claim, claimed_at=timedelta(days=10))
        await seeder.end(OFFICIAL, claim, ClaimStatus.REVOKED, "认领后十天无联系，收回另派")

    async def expired() -> None:
        need = seeder.take(NGO)
        claim = await seeder.claim(NGO, need)
        await seeder.age(
            claim,
            claimed_at=timedelta(days=40),
            expected_by=timedelta(days=12),
            expires_at=timedelta(days=10),
        )

    async def shared_pledges() -> None:
        # One need pledged in full by two providers; one half delivered and verified, the rest
        # unpledged; one partly pledged and still open.
        full, half, part = shares[0], shares[1], shares[2]
        assert full.quantity is not None and half.quantity is not None
        assert part.quantity is not None
        await seeder.claim(CHUNMIAO, full, quantity=_part(full.quantity, 0.6))
        await seeder.claim(BUSINESS, full)
        claim = await seeder.claim(BUSINESS, half, quantity=_part(half.quantity, 0.5))
        await seeder.review(await seeder.deliver(BUSINESS, claim, half, "第一批已发放"))
        await seeder.claim(CHUNMIAO, part, quantity=_part(part.quantity, 0.3))

    async def overlapping() -> None:
        # The same kind of need registered twice for one child (by two offices, say), and two
        # providers each taking one: the second is warned, and officials see the overlap.
        first = seeder.take(CHUNMIAO, NeedCategory.MATERIAL)
        async with seeder.sessions.begin() as session:
            again = await needs.open_need(
                session,
                seeder.people[OFFICIAL],
                needs.NewNeed(
                    child_id=first.child_id,
                    category=NeedCategory(first.category),
                    urgency=Urgency.MEDIUM,
                    description="乡镇工作站另行登记的同类需求",
                ),
            )
        await seeder.claim(CHUNMIAO, first)
        second = OpenNeed(again.id, again.child_id, again.category, None, again.created_at)
        await seeder.claim(BUSINESS, second, note="未与其他机构沟通")

    return [
        active,
        overdue,
        extended,
        awaiting_verification,
        fulfilled,
        disputed,
        released,
        failed,
        revoked,
        expired,
        shared_pledges,
        overlapping,
    ]


def _part(quantity: Decimal, share: float) -> Decimal:
    return max((quantity * Decimal(str(share))).quantize(Decimal("1")), Decimal("1"))


def describe(counts: dict[str, int]) -> str:
    order = [status.value for status in ClaimStatus]
    return ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
