"""A claim writes the need's row once, settled from the row itself (``ledger.status_after_pledge``):
the row it leaves must be the row its claims settle it to (``ledger.settle``'s arithmetic), and
the one statement that writes the claim must write nothing when the pledge does not fit, whatever
Python believed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.db.engine import session_factory
from hub.db.models import AuditEvent, Claim, Need
from hub.domain import claims, ledger
from hub.vocabulary import NeedStatus
from tests.auth import Tokens
from tests.coordination import END, VERIFY, a_child, a_need, claim, claimed, log, uuid_of
from tests.graphql import GraphQLClient
from tests.world import World


async def _row_and_settled(engine: AsyncEngine, need: str) -> tuple[tuple[str, Decimal], ...]:
    """The need's row (status, pledged) and what its claims settle it to."""
    async with session_factory(engine)() as session:
        row = await session.get(Need, uuid_of(need))
        assert row is not None
        totals = await ledger.totals_of(session, row.id)
        settled = ledger.need_status(row.status, row.quantity, totals)
        return (row.status.value, row.pledged_quantity), (settled.value, totals.pledged)


async def test_every_claim_leaves_the_need_as_its_claims_settle_it(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """Claims on a divisible need in each state a claim can find it in: open, partly pledged,
    delivered to (by a claim still active, and by one released after delivering), and the
    claim that pledges the rest."""
    need = await a_need(gql, await a_child(gql), category="FINANCIAL", quantity="1000", unit="YUAN")
    statuses = []

    async def claim_and_compare(as_: str, quantity: str | None = None) -> dict[str, object]:
        won = await claimed(gql, need, as_, quantity=quantity)
        row, settled = await _row_and_settled(engine, need)
        assert row == settled
        assert won["need"]["status"] == row[0].upper()  # type: ignore[index]
        statuses.append(row[0])
        return won

    first = (await claim_and_compare("ngo", "300"))["claim"]  # open, nothing pledged
    await claim_and_compare("business", "100")  # open, partly pledged
    (await log(gql, first["id"], "ngo", quantity="100")).ok()  # type: ignore[index]
    released = await gql(
        END["release"],
        {"input": {"id": first["id"], "version": 2, "reason": "人手不足"}},  # type: ignore[index]
        as_="ngo",
    )
    # The release keeps what was delivered: 100 of the 300 stay pledged.
    assert released.ok()["releaseClaim"]["claim"]["status"] == "RELEASED"
    await claim_and_compare("officer", "300")  # delivered to, by an ended claim
    await claim_and_compare("ngo")  # the rest: 500
    assert statuses == ["open", "open", "partially_met", "in_progress"]
    assert (await claim(gql, need, "director")).ok()["claimNeed"]["__typename"] == "OverPledged"


async def test_a_claim_after_a_verified_share_settles_alike(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    need = await a_need(gql, await a_child(gql), category="FINANCIAL", quantity="1000", unit="YUAN")
    won = (await claimed(gql, need, "ngo", quantity="600"))["claim"]
    logged = (await log(gql, won["id"], "ngo", quantity="600")).ok()["logDelivery"]
    delivery = logged["delivery"]
    verified = await gql(
        VERIFY, {"input": {"id": delivery["id"], "version": delivery["version"]}}, as_="officer"
    )
    assert verified.ok()["verifyDelivery"]["claim"]["status"] == "FULFILLED"
    rest = await claimed(gql, need, "business")
    assert rest["need"]["status"] == "IN_PROGRESS"
    row, settled = await _row_and_settled(engine, need)
    assert row == settled == ("in_progress", Decimal("1000.00"))


async def test_the_claim_statement_writes_nothing_when_the_pledge_does_not_fit(
    gql: GraphQLClient, world: World, engine: AsyncEngine, app: Starlette, tokens: Tokens
) -> None:
    """The pledge is decided by PostgreSQL, not by Python's reading of the row: given a row
    that says the need is free when it is not, the statement writes no claim, no audit event
    and leaves the row as it was."""
    need_id = uuid_of(await a_need(gql, await a_child(gql)))
    principal = await app.state.authenticator.from_token(await tokens.member("ngo"), session=None)
    async with session_factory(engine)() as session, session.begin():
        stale = await claims._lock_for_claiming(session, principal, need_id)
        assert stale.pledged_quantity == 0
        # Pledged in full behind the read row's back (the lock is this transaction's own).
        await session.execute(
            text("UPDATE needs SET pledged_quantity = 1 WHERE id = :id"), {"id": need_id}
        )
        events_before = await session.scalar(select(func.count()).select_from(AuditEvent))
        now = datetime.now(UTC)
        made = await claims._make(
            session,
            principal,
            stale,
            uuid.uuid4(),
            Decimal(1),
            now + timedelta(days=1),
            now + timedelta(days=1),
            None,
        )
        assert made is None
        assert await session.scalar(select(func.count()).select_from(Claim)) == 0
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == events_before
        row = (
            await session.execute(select(Need.status, Need.version).where(Need.id == need_id))
        ).one()
        assert (row.status, row.version) == (NeedStatus.OPEN, stale.version)
