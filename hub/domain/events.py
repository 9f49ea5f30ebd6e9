"""Need events: what happened to a need, announced to every hub process, and who may hear it.

A transition announces itself with ``emit`` inside the transaction that makes it. PostgreSQL
delivers a NOTIFY only when that transaction commits, so a rolled-back change announces nothing
and a listener never hears of a change it cannot yet read. The payload is small and carries no
personal data: the need's id, what happened, its region and category, and when. Every listener
decides for each subscriber whether it may see the need (``hub.domain.subscriptions``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import orjson
from sqlalchemy import func, select
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


@dataclass(frozen=True)
class NeedEvent:
    need_id: uuid.UUID
    kind: NeedEventKind
    region_code: str
    category: NeedCategory
    at: datetime

    def payload(self) -> str:
        return orjson.dumps(
            {
                "need": str(self.need_id),
                "kind": self.kind.value,
                "region": self.region_code,
                "category": self.category.value,
                "at": self.at.isoformat(),
            }
        ).decode()

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
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("ignored an unreadable need event: %.200s", payload)
            return None


async def emit(session: AsyncSession, need: Need, kind: NeedEventKind) -> None:
    """Announce ``kind`` for ``need`` when, and only if, the session's transaction commits.

    PostgreSQL folds identical notifications of one transaction into one; ``at`` keeps
    distinct events apart, and folding true duplicates loses nothing.
    """
    event = NeedEvent(need.id, kind, need.region_code, need.category, utcnow())
    await session.execute(select(func.pg_notify(CHANNEL, event.payload())))
