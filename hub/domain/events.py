"""Need events: what happened to a need, announced to every hub process, and who may hear it.

A change announces itself with ``emit`` (or ``announce``, for several needs at once) inside the
transaction that makes it. PostgreSQL delivers a NOTIFY only when that transaction commits, so a
rolled-back change announces nothing and a listener never hears of a change it cannot yet read. The
payload is small and carries no personal data: the need's id, what happened, its region and
category, and when; for a change of region or category (a merge moving needs, an update), also the
ones it had before, so that a subscriber following either side hears of it. Every listener decides
for each subscriber whether it may see the need as it is now (``hub.domain.subscriptions``).

PostgreSQL adds the ``horizon`` to each payload as it sends it: the oldest transaction still
running at that moment (``pg_snapshot_xmin``). Every transaction below it has ended before this
one commits, so its own notifications are delivered before this one's: a subscriber that has
heard this event has heard (or been told it missed) every change below the horizon, and may
resume the change feed from there (``hub.domain.event_replay``). Transaction ids are not given
out in commit order, so the changed need's own ``change_xid`` could not say as much.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import ARRAY, BigInteger, ColumnElement, Row, Text, bindparam, cast, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Need
from hub.domain.clock import utcnow
from hub.vocabulary import NeedCategory

logger = logging.getLogger(__name__)

CHANNEL = "hub_need_events"


class NeedEventKind(StrEnum):
    OPENED = "opened"
    CLAIMED = "claimed"
    RELEASED = "released"
    FAILED = "failed"
    REVOKED = "revoked"
    EXPIRED = "expired"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    UPDATED = "updated"
    MOVED = "moved"
    # Not announced by any change: a need replayed from the change feed to a subscriber that
    # resumed from a cursor, as it is now (``hub.domain.event_replay``).
    CHANGED = "changed"


@dataclass(frozen=True)
class NeedEvent:
    need_id: uuid.UUID
    kind: NeedEventKind
    region_code: str
    category: NeedCategory
    at: datetime
    # What the need was before, when this event changed it (None: unchanged). Only for matching
    # subscribers' filters: nobody is shown where a need was.
    previous_region_code: str | None = None
    previous_category: NeedCategory | None = None
    # Set by PostgreSQL when it sends the event (see the module's note); None before.
    horizon: int | None = None

    def payload(self) -> str:
        data = {
            "need": str(self.need_id),
            "kind": self.kind.value,
            "region": self.region_code,
            "category": self.category.value,
            "at": self.at.isoformat(),
        }
        if self.previous_region_code is not None:
            data["previous_region"] = self.previous_region_code
        if self.previous_category is not None:
            data["previous_category"] = self.previous_category.value
        return orjson.dumps(data).decode()

    @classmethod
    def parse(cls, payload: str) -> NeedEvent | None:
        """The event a payload carries; None (logged) for one this hub cannot read, e.g. from
        a newer release sharing the database during a rolling upgrade."""
        try:
            data = orjson.loads(payload)
            return cls(
                need_id=uuid.UUID(data["need"]),
                kind=NeedEventKind(data["kind"]),
                region_code=str(data["region"]),
                category=NeedCategory(data["category"]),
                at=datetime.fromisoformat(data["at"]),
                previous_region_code=(
                    None if data.get("previous_region") is None else str(data["previous_region"])
                ),
                previous_category=(
                    None
                    if data.get("previous_category") is None
                    else NeedCategory(data["previous_category"])
                ),
                horizon=_horizon(data.get("horizon")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("ignored an unreadable need event: %.200s", payload)
            return None


def _horizon(value: Any) -> int | None:
    """A payload's horizon; an event from a hub that sends none (a rolling upgrade) has none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("not a transaction id")
    return value


def event_for(
    need: Need | Row[*tuple[Any, ...]],
    kind: NeedEventKind,
    *,
    previous_category: NeedCategory | None = None,
) -> NeedEvent:
    """``kind`` for ``need`` as it is now; its previous category only if this changed it."""
    changed = previous_category is not None and previous_category is not need.category
    return NeedEvent(
        need.id,
        kind,
        need.region_code,
        need.category,
        utcnow(),
        previous_category=previous_category if changed else None,
    )


async def emit(
    session: AsyncSession, need: Need | Row[*tuple[Any, ...]], kind: NeedEventKind
) -> None:
    """Announce ``kind`` for ``need`` when, and only if, the session's transaction commits."""
    await announce(session, [event_for(need, kind)])


def notify_column() -> ColumnElement[Any]:
    """``pg_notify`` of one event, as a column of the statement that writes the change it
    announces: the announcement costs no statement of its own. Executed with
    ``notify_params(event)``; delivered, as ``emit``'s, when and only if the transaction
    commits."""
    return func.pg_notify(
        bindparam("event_channel"), _with_horizon(bindparam("event_payload", type_=Text))
    )


def notify_params(event: NeedEvent) -> dict[str, str]:
    return {"event_channel": CHANNEL, "event_payload": event.payload()}


# The oldest transaction running as the statement that announces runs (see the module's note).
_HORIZON = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)


def _with_horizon(payload: ColumnElement[Any]) -> ColumnElement[Any]:
    stamped = cast(payload, JSONB).op("||")(func.jsonb_build_object("horizon", _HORIZON))
    return cast(stamped, Text)


_NOTIFY_EACH = text(
    "SELECT pg_notify(:channel, (payload::jsonb || jsonb_build_object('horizon',"
    " pg_snapshot_xmin(pg_current_snapshot())::text::bigint))::text)"
    " FROM unnest(:payloads) AS payload"
).bindparams(bindparam("payloads", type_=ARRAY(Text)))


async def announce(session: AsyncSession, events: Sequence[NeedEvent]) -> None:
    """Announce ``events`` when, and only if, the session's transaction commits: one statement
    however many there are (a merge moves all of a child's needs at once).

    PostgreSQL folds identical notifications of one transaction into one; ``at`` keeps
    distinct events apart, and folding true duplicates loses nothing.
    """
    if events:
        # On the session's connection: a NOTIFY reads nothing that pending objects could change.
        connection = await session.connection()
        await connection.execute(
            _NOTIFY_EACH, {"channel": CHANNEL, "payloads": [event.payload() for event in events]}
        )
