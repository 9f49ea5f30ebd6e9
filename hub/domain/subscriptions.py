"""Following need events: what a subscriber asked for, and what it may see of each event.

Access is decided for every event, with the subscriber's principal read live, by the same reads
as the ``need`` query's: an event never shows more than a query would at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, jurisdictions_for
from hub.auth.principal import Principal
from hub.domain.events import NeedEvent
from hub.domain.jurisdiction import checked_prefix, narrow, too_narrow
from hub.domain.needs import NeedView, needs_by_ids
from hub.vocabulary import NeedCategory


@dataclass(frozen=True)
class EventFilter:
    """What a subscriber asked for: needs within ``jurisdiction`` (a region-code prefix, or
    anywhere in reach), of ``categories`` (or any)."""

    jurisdiction: str | None = None
    categories: frozenset[NeedCategory] = frozenset()

    def matches(self, event: NeedEvent) -> bool:
        """Whether the need, as it is now or as it was before this event, is one asked for:
        a need moved out of the jurisdiction, or changed to another category, is still news
        to those who followed it there (if they may see it now)."""
        before = (
            event.previous_region_code or event.region_code,
            event.previous_category or event.category,
        )
        return self._wants(event.region_code, event.category) or self._wants(*before)

    def _wants(self, region_code: str, category: NeedCategory) -> bool:
        if self.jurisdiction is not None and not region_code.startswith(self.jurisdiction):
            return False
        return not self.categories or category in self.categories


def followed_jurisdiction(principal: Principal, requested: str | None) -> str | None:
    """The jurisdiction a subscriber asked to follow, validated and within its tier."""
    return checked_prefix(principal, Permission.READ_REGISTER, requested)


def may_follow(principal: Principal, jurisdiction: str | None) -> bool:
    """Whether the principal may read any need within the jurisdiction (anywhere, if none),
    at a tier that lets it follow that jurisdiction: one who lost case detail there stops
    following a village, which would otherwise go on telling which needs lie in it."""
    if jurisdiction is not None and too_narrow(principal, Permission.READ_REGISTER, jurisdiction):
        return False
    return bool(narrow(jurisdictions_for(principal, Permission.READ_REGISTER), jurisdiction))


async def visible_need(
    session: AsyncSession, principal: Principal, event: NeedEvent
) -> NeedView | None:
    """The event's need as the principal may see it now, or None if it is out of their reach.

    The same read as the ``need`` query's, so that an event never shows more than a query would.
    """
    return (await needs_by_ids(session, principal, [event.need_id])).get(event.need_id)
