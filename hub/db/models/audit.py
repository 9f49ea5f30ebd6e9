"""The append-only record of every change.

The database keeps it honest, not the hub: a trigger refuses every UPDATE and DELETE of a row
(whoever asks) but one, linking a new row, after commit, to the one before it by hashes, so that
a row changed or removed behind the trigger's back breaks the chain (see ``hub.domain.audit``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, FetchedValue, ForeignKey, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, created_at_column, region_code_type


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_region_code_id", "region_code", "id"),
        Index("uq_audit_events_chain_seq", "chain_seq", unique=True),
        # What the appender has yet to link (migration 0006): a handful of rows at any time.
        Index("ix_audit_events_unlinked", "id", postgresql_where=text("chain_seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = created_at_column()
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    actor_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id")
    )
    actor_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    client_id: Mapped[str | None] = mapped_column(String(100))
    # The region the change concerns, so auditors read only their jurisdiction's events;
    # None for hub-wide events, which only platform-wide audit readers see.
    region_code: Mapped[str | None] = mapped_column(region_code_type())
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Set by the database once the event is linked, after commit, in the order the appender
    # finds committed events (``audit_chain_pending``): the position in the chain, the previous
    # event's hash and this event's own. Empty until then.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())
    prev_hash: Mapped[str | None] = mapped_column(String(64), server_default=FetchedValue())
    hash: Mapped[str | None] = mapped_column(String(64), server_default=FetchedValue())
