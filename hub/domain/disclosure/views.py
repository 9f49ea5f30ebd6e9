"""What one reader sees of a batch: whether each need's text, and each claim's and delivery's,
shows - decided by ``rules`` from what the reader's provider holds (``statements.holdings``).

Needs, claims and deliveries, on every path that reads them (queries, ``node``, ``_entities``,
subscriptions, the change feed, mutations' answers), build their views through a ``Disclosure``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.domain.disclosure.rules import reads_need_text
from hub.domain.disclosure.statements import NOTHING_HELD, Holdings, holdings
from hub.vocabulary import NeedCategory


class Disclosure:
    """One principal's decisions over one batch of rows, each policy question asked once per
    region and category."""

    def __init__(self, principal: Principal, held: Holdings = NOTHING_HELD) -> None:
        self.principal = principal
        self.held = held
        self._need_text: dict[tuple[str, NeedCategory, bool], bool] = {}

    def claims_child(self, child_id: uuid.UUID) -> bool:
        """Whether the reader's provider holds an active claim on any need of the child: what
        the child's own case detail goes by (``hub.domain.visibility``)."""
        return child_id in self.held.children

    def need_text(self, need_id: uuid.UUID, region_code: str, category: NeedCategory) -> bool:
        """Whether the need's description and cancel reason show."""
        key = (region_code, category, need_id in self.held.needs)
        shown = self._need_text.get(key)
        if shown is None:
            shown = self._need_text[key] = reads_need_text(
                self.principal, region_code, category, holds=key[2]
            )
        return shown

    def record_text(
        self,
        provider_id: uuid.UUID,
        need_id: uuid.UUID,
        region_code: str,
        category: NeedCategory,
    ) -> bool:
        """Whether the text of a claim or delivery of ``provider_id`` on the need shows: its
        own provider reads it always (its own records), anyone else as the need's text."""
        own = provider_id == self.principal.provider_id
        return own or self.need_text(need_id, region_code, category)


async def disclosure_for(
    session: AsyncSession,
    principal: Principal,
    children: Iterable[tuple[uuid.UUID, str]],
) -> Disclosure:
    """The decisions for a batch about ``(child id, region code)`` pairs: one query at most."""
    return Disclosure(principal, await holdings(session, principal, children))
