"""The SQL of disclosure: which needs of a batch's children the reader's provider holds.

Asked once per batch of rows (a page of needs, the claims of a page, a child's deliveries), for
the children whose text the reader cannot read anyway as an official, and in a query (which
writes nothing) once per child for the whole request: the answer cannot change while nothing is
written, and needs, children, claims and deliveries of one page all ask it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import LateralFromClause

from hub.auth.principal import Principal
from hub.db.arrays import any_of_parameter
from hub.db.models import Claim, Need
from hub.domain.disclosure.rules import is_official, may_hold
from hub.domain.ledger import effectively_active


@dataclass(frozen=True)
class Holdings:
    """What the reader's provider holds an active claim on, among the children asked about."""

    # Children one of whose needs it holds: it is a claimant of the child.
    children: frozenset[uuid.UUID] = frozenset()
    # The needs themselves: the text of a need goes to the one holding it.
    needs: frozenset[uuid.UUID] = frozenset()

    @classmethod
    def of_claim(cls, child_id: uuid.UUID, need_id: uuid.UUID) -> Holdings:
        """Holding the one need a claim was just made on."""
        return cls(children=frozenset({child_id}), needs=frozenset({need_id}))


NOTHING_HELD = Holdings()


def one_active_claim(provider_id: Any, need_id: Any) -> LateralFromClause:
    """The provider's active claim on the need, if any, as a lateral subquery: for each need,
    one look at its own claims (an index probe by need). A plain join would read every active
    claim of the provider instead, which grows with the provider's work rather than with the
    page."""
    return (
        select(Claim.id)
        .where(Claim.need_id == need_id, Claim.provider_id == provider_id, effectively_active())
        .limit(1)
        .lateral("active_claim")
    )


def _held_statement() -> Select[uuid.UUID, uuid.UUID]:
    provider_id = bindparam("provider_id", type_=Claim.provider_id.type)
    return (
        select(Need.child_id, Need.id)
        .join(one_active_claim(provider_id, Need.id), true())
        .where(any_of_parameter(Need.child_id, "child_ids"))
    )


# Built once: the same for every reader and batch, only its parameters differ (building it
# afresh cost more CPU than PostgreSQL spent running it).
_HELD = _held_statement()

# Within one read-only request: the needs the principal's provider holds of each child asked
# about so far (an empty set: none).
_memo: ContextVar[dict[uuid.UUID, frozenset[uuid.UUID]] | None] = ContextVar(
    "holdings_memo", default=None
)


@contextmanager
def holdings_memo() -> Iterator[None]:
    """Remember ``holdings`` answers until the block ends. Only for work that writes nothing:
    a claim made inside the block would not be seen."""
    token = _memo.set({})
    try:
        yield
    finally:
        # An operation abandoned half-way (a timeout, a client gone) has its block closed
        # later, by the garbage collector, in whatever context is current then: there is
        # nothing to undo, since the context the memo lived in ended with its request.
        with suppress(ValueError):
            _memo.reset(token)


async def holdings(
    session: AsyncSession,
    principal: Principal,
    children: Iterable[tuple[uuid.UUID, str]],
) -> Holdings:
    """Among ``(child id, region code)`` pairs, what the principal's provider holds an active
    claim on, in one query, asked only of children in regions the principal is no official of:
    an official reads everything there anyway."""
    if not may_hold(principal):
        return NOTHING_HELD
    # A batch's children share a few regions: the policy is asked once per region.
    official: dict[str, bool] = {}
    wanted: set[uuid.UUID] = set()
    for child_id, region_code in children:
        reads_all = official.get(region_code)
        if reads_all is None:
            reads_all = official[region_code] = is_official(principal, region_code)
        if not reads_all:
            wanted.add(child_id)
    if not wanted:
        return NOTHING_HELD
    memo = _memo.get()
    known = memo if memo is not None else {}
    unknown = wanted - known.keys()
    held: dict[uuid.UUID, frozenset[uuid.UUID]] = {
        child_id: known[child_id] for child_id in wanted - unknown
    }
    if unknown:
        connection = await session.connection()  # the Core path: cheaper than the ORM's
        rows = await connection.execute(
            _HELD, {"provider_id": principal.provider_id, "child_ids": list(unknown)}
        )
        found: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for child_id, need_id in rows:
            found[child_id].add(need_id)
        fresh = {child_id: frozenset(found.get(child_id, ())) for child_id in unknown}
        held.update(fresh)
        if memo is not None:
            memo.update(fresh)
    return Holdings(
        children=frozenset(child_id for child_id, needs in held.items() if needs),
        needs=frozenset(need_id for needs in held.values() for need_id in needs),
    )
