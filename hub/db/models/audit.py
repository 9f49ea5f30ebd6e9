"""The append-only record of every change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, created_at_column, region_code_type


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_region_code_id", "region_code", "id"),
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
