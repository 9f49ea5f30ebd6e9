"""The needEvents subscription: the process's need events, filtered, and for each one checked
against the subscriber's principal read live.

A stream ends with an error (and the client resubscribes) when its token expires
(``UNAUTHENTICATED``), when its principal no longer may read the jurisdiction it follows
(``FORBIDDEN``), when it falls too far behind (``SLOW_SUBSCRIBER``) or when the process lost
its event feed (``EVENTS_INTERRUPTED``). A connection runs at most
``max_subscriptions_per_connection`` at once (``TOO_MANY_SUBSCRIPTIONS``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Iterator

from hub.auth.principal import Principal
from hub.domain import subscriptions
from hub.domain.errors import DomainError, Forbidden, Unauthenticated
from hub.domain.jurisdiction import validate_prefix
from hub.domain.subscriptions import EventFilter
from hub.resolvers.context import Context
from hub.schema.context import Info
from hub.schema.events import NeedEvent
from hub.schema.needs import Need
from hub.vocabulary import NeedCategory


class TooManySubscriptions(DomainError):
    code = "TOO_MANY_SUBSCRIPTIONS"


EXPIRED = "the access token expired; reconnect with a fresh one"
OUT_OF_REACH = "you may no longer read needs in this jurisdiction"


async def need_events(
    info: Info,
    jurisdiction: str | None = None,
    categories: list[NeedCategory] | None = None,
) -> AsyncGenerator[NeedEvent, None]:
    context = info.context
    assert isinstance(context, Context)
    principal = context.require_principal()
    if context.broker is None:
        raise Unauthenticated("subscribe over a WebSocket (graphql-transport-ws)")
    wanted = EventFilter(
        jurisdiction=None if jurisdiction is None else validate_prefix(jurisdiction),
        categories=frozenset(categories or ()),
    )
    if not subscriptions.may_follow(principal, wanted.jurisdiction):
        raise Forbidden("reading needs in this jurisdiction is outside your reach")
    recheck = context.settings.events_recheck_seconds
    with _counted(context), context.broker.subscribe() as subscription:
        next_check = time.monotonic() + recheck
        while True:
            timeout = max(0.0, min(next_check - time.monotonic(), _until_expiry(context)))
            event = await subscription.next(timeout)
            if event is None:
                # Nothing arrived: still time to notice an expired token or a revoked role.
                await _recheck(context, wanted)
                next_check = time.monotonic() + recheck
                continue
            if not wanted.matches(event):
                continue
            principal = await _recheck(context, wanted)
            next_check = time.monotonic() + recheck
            async with context.sessions() as session:
                view = await subscriptions.visible_need(session, principal, event)
            if view is not None:
                yield NeedEvent(kind=event.kind, at=event.at, need=Need.from_view(view))


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
