"""The needEvents subscription: the process's need events, filtered, and for each one checked
against the subscriber's principal read live.

Given ``after`` (a change-feed cursor, such as the last event's), the stream first replays what
changed since, then goes on live, missing nothing in between (``hub.domain.event_replay``);
every event carries the cursor to resume from.

A stream ends with an error (and the client resubscribes) when its token expires
(``UNAUTHENTICATED``), when its principal no longer may read the jurisdiction it follows
(``FORBIDDEN``), when it falls too far behind (``SLOW_SUBSCRIBER``) or when the process lost
its event feed (``EVENTS_INTERRUPTED``, also at once for a stream opened while the process is
not listening). A connection runs at most ``max_subscriptions_per_connection`` at once
(``TOO_MANY_SUBSCRIPTIONS``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Iterator

from hub.auth.principal import Principal
from hub.db.availability import is_database_unavailable
from hub.domain import event_replay, subscriptions
from hub.domain.errors import DomainError, Forbidden, Unauthenticated
from hub.domain.event_broker import INTERRUPTED, EventsInterrupted
from hub.domain.events import NeedEventKind
from hub.domain.subscriptions import EventFilter
from hub.resolvers.context import Context
from hub.schema.context import Info
from hub.schema.events import NeedEvent
from hub.schema.needs import Need
from hub.vocabulary import NeedCategory

logger = logging.getLogger(__name__)


class TooManySubscriptions(DomainError):
    code = "TOO_MANY_SUBSCRIPTIONS"


EXPIRED = "the access token expired; reconnect with a fresh one"
OUT_OF_REACH = "you may no longer read needs in this jurisdiction"


async def need_events(
    info: Info,
    jurisdiction: str | None = None,
    categories: list[NeedCategory] | None = None,
    after: str | None = None,
) -> AsyncGenerator[NeedEvent, None]:
    context = info.context
    assert isinstance(context, Context)
    principal = context.require_principal()
    if context.broker is None:
        raise Unauthenticated("subscribe over a WebSocket (graphql-transport-ws)")
    wanted = EventFilter(
        jurisdiction=subscriptions.followed_jurisdiction(principal, jurisdiction),
        categories=frozenset(categories or ()),
    )
    resume_from = None if after is None else event_replay.position_of(after)
    if not subscriptions.may_follow(principal, wanted.jurisdiction):
        raise Forbidden("reading needs in this jurisdiction is outside your reach")
    recheck = context.settings.events_recheck_seconds
    with (
        _counted(context),
        context.broker.subscribe() as subscription,
        _interrupted_by_losing_the_database(),
    ):
        # Registered first, then the horizon noted: see hub.domain.event_replay.
        subscription.raise_if_ended()
        async with context.sessions() as session:
            feed_end, horizon = await event_replay.snapshot_bounds(session)
        if resume_from is None:
            # Everything a stream opened now can hear was committed from feed_end on.
            position = event_replay.from_transaction(feed_end)
        else:
            replay = event_replay.Replay(context.sessions, wanted, resume_from, horizon)
            async for view, position in replay.changes(lambda: _recheck(context, wanted)):
                subscription.raise_if_ended()
                yield NeedEvent(
                    kind=NeedEventKind.CHANGED,
                    at=view.updated_at,
                    need=Need.from_view(view),
                    cursor=event_replay.cursor_at(position),
                )
            position = replay.position
        next_check = time.monotonic() + recheck
        while True:
            timeout = max(0.0, min(next_check - time.monotonic(), _until_expiry(context)))
            event = await subscription.next(timeout)
            if event is None:
                # Nothing arrived: still time to notice an expired token or a revoked role.
                await _recheck(context, wanted)
                next_check = time.monotonic() + recheck
                continue
            if event.horizon is not None:
                # Every change below it was heard before this event (hub.domain.events).
                position = max(position, event_replay.from_transaction(event.horizon))
            if not wanted.matches(event):
                continue
            principal = await _recheck(context, wanted)
            next_check = time.monotonic() + recheck
            async with context.sessions() as session:
                view = await subscriptions.visible_need(session, principal, event)
            if view is not None:
                yield NeedEvent(
                    kind=event.kind,
                    at=event.at,
                    need=Need.from_view(view),
                    cursor=event_replay.cursor_at(position),
                )


@contextlib.contextmanager
def _interrupted_by_losing_the_database() -> Iterator[None]:
    """A stream whose database went away (PostgreSQL restarting, its connection cut) cannot
    read the needs its events name, and may miss events as one whose listener did: it ends
    with EVENTS_INTERRUPTED, whose recovery the client knows, not an internal error."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, DomainError) or not is_database_unavailable(exc):
            raise
        logger.warning("a need-event stream lost the database: %r", exc)
        raise EventsInterrupted(INTERRUPTED) from exc


@contextlib.contextmanager
def _counted(context: Context) -> Iterator[None]:
    """One more subscription on this connection, within the limit; one fewer when it ends."""
    limit = context.settings.max_subscriptions_per_connection
    if context.active_subscriptions >= limit:
        raise TooManySubscriptions(
            f"this connection already runs {limit} subscriptions; end one or open another "
            "connection",
            limit=limit,
        )
    context.active_subscriptions += 1
    try:
        yield
    finally:
        context.active_subscriptions -= 1


def _until_expiry(context: Context) -> float:
    if context.expires_at is None:
        return float("inf")
    return context.expires_at - time.time()


async def _recheck(context: Context, wanted: EventFilter) -> Principal:
    """The subscriber's principal read afresh, or the reason the stream ends."""
    if context.expires_at is not None and time.time() >= context.expires_at:
        raise Unauthenticated(EXPIRED)
    assert context.authenticate is not None
    principal, reason = await context.authenticate(context.credentials)
    if principal is None:
        raise Unauthenticated(reason)
    if not subscriptions.may_follow(principal, wanted.jurisdiction):
        raise Forbidden(OUT_OF_REACH)
    context.act_as(principal)
    return principal
