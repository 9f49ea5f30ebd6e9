"""Deliveries: what a provider reports having given under a claim, and its verification."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, created_at_column, pg_enum, uuid_pk
from hub.vocabulary import DeliveryStatus


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_is_positive"),
        CheckConstraint(
            "(status = 'disputed') = (dispute_reason IS NOT NULL)", name="disputed_has_reason"
        ),
        CheckConstraint(
            "(status = 'logged') = (reviewed_at IS NULL)", name="reviewed_unless_logged"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    claim_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("claims.id"), index=True
    )
    # The claim's provider, copied so that separation of duties needs no join.
    provider_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("providers.id"))
    logged_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id")
    )
    client_id: Mapped[str | None] = mapped_column(String(100))
    # NULL under an indivisible claim: the delivery is the thing itself.
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    delivered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    description: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        pg_enum(DeliveryStatus, "delivery_status"), server_default=DeliveryStatus.LOGGED.value
    )
    logged_at: Mapped[datetime] = created_at_column()
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id")
    )
    reviewed_by_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
