"""Where a need-event stream stands in the change feed, and replaying what a subscriber missed.

A subscriber resumes with the last cursor it was given (``needEvents(after:)``). The stream is
registered first, and only then is the transaction horizon noted (``pg_snapshot_xmax`` of a
snapshot taken after registering): a transaction at or above it took its id later, so it
commits later and its notification reaches the registered stream. Every transaction below it
is in the change feed once the feed's end (the oldest transaction still running) has passed
the horizon, so the replay reads the feed from the cursor, again and again while older
transactions still run, until it has. Between them the two miss nothing; a change may come
twice around the seam (at least once, as change streams' resume tokens and Hasura's streaming
subscriptions promise).

A position is a change-feed cursor's values, (transaction id, need id): the feed resumed from
it returns every need whose last change lies after it. ``(xid, NIL)`` means "every change of
transaction ``xid`` or later", since no need has the nil id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.domain.needs import (
    NeedFilter,
    NeedOrder,
    NeedView,
    cursor_arity,
    cursor_kind,
    cursor_values,
    list_needs,
)
from hub.domain.pagination import PageRequest, decode_cursor, encode_cursor
from hub.domain.subscriptions import EventFilter

Position = tuple[int, uuid.UUID]
NIL = uuid.UUID(int=0)
PAGE_SIZE = 100
# While a transaction older than the horizon still runs, the feed is read again after a pause
# that grows to this: a long transaction delays the replay, it never lets it skip a change.
FIRST_PAUSE = 0.02
LONGEST_PAUSE = 1.0

_SNAPSHOT = text(
    "SELECT pg_snapshot_xmin(s)::text::bigint AS xmin, pg_snapshot_xmax(s)::text::bigint AS xmax"
    " FROM pg_current_snapshot() AS s"
)

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def position_of(cursor: str) -> Position:
    """A change-feed cursor's position; BAD_USER_INPUT (``field: "after"``) if it is not one."""
    order = NeedOrder.CHANGED
    xid, need_id = cursor_values(
        order, decode_cursor(cursor_kind(order), cursor, cursor_arity(order))
    )
    return (int(xid), uuid.UUID(str(need_id)))


def cursor_at(position: Position) -> str:
    """The change-feed cursor of a position, as ``needs(orderBy: CHANGED)`` gives them."""
    xid, need_id = position
    return encode_cursor(cursor_kind(NeedOrder.CHANGED), (xid, str(need_id)))


def from_transaction(xid: int) -> Position:
    """Every change of transaction ``xid`` or a later one."""
    return (xid, NIL)


async def snapshot_bounds(session: AsyncSession) -> tuple[int, int]:
    """(xmin, xmax) of a snapshot taken now: every transaction below xmin has ended, and every
    one at or above xmax takes its id from now on."""
    row = (await session.execute(_SNAPSHOT)).one()
    return int(row.xmin), int(row.xmax)


class Replay:
    """The needs changed after ``after`` within the subscriber's filter and reach, each as it
    is now, read from the change feed until its end has passed ``horizon``. ``position`` is
    where the subscriber stands once it has seen what was yielded so far."""

    def __init__(
        self,
        sessions: Sessions,
        wanted: EventFilter,
        after: Position,
        horizon: int,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._sessions = sessions
        self._where = NeedFilter(
            jurisdiction=wanted.jurisdiction,
            categories=tuple(sorted(wanted.categories)),
            order=NeedOrder.CHANGED,
        )
        self._horizon = horizon
        self._page_size = page_size
        self._cursor = after
        self.position = after

    async def changes(
        self, principal: Callable[[], Awaitable[Principal]]
    ) -> AsyncIterator[tuple[NeedView, Position]]:
        """``principal``: awaited before each page for the subscriber as it is now (roles
        read afresh, or the reason its stream ends)."""
        pause = FIRST_PAUSE
        while True:
            reader = await principal()
            async with self._sessions() as session:
                # Measured before the page is read: the page's own snapshot ends no earlier.
                feed_end, _ = await snapshot_bounds(session)
                page = await list_needs(
                    session,
                    reader,
                    self._where,
                    PageRequest(self._page_size, (self._cursor[0], str(self._cursor[1]))),
                )
            for view, cursor in zip(page.items, page.cursors, strict=True):
                self._cursor = position_of(cursor)
                self.position = max(self.position, self._cursor)
                yield view, self.position
            if page.has_next_page:
                continue
            if feed_end >= self._horizon:
                # Everything committed below feed_end was visible to that read: the
                # subscriber has it, and the live stream has everything from the horizon on.
                self.position = max(self.position, from_transaction(feed_end))
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
