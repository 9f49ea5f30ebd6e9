"""Claims: a provider's commitment to meet a need, or for a divisible need a pledged share of it.

The rules that keep aid from being duplicated live here as constraints, so that they hold with
any number of hub processes: at most one active claim per indivisible need (a partial unique
index), and no claim delivering more than it pledged (a check). The need's own check keeps the
sum of pledges within its quantity.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, created_at_column, pg_enum, uuid_pk
from hub.vocabulary import ClaimStatus


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        # An indivisible need's claims carry no quantity; only one of them may be active.
        Index(
            "uq_claims_need_id_active_indivisible",
            "need_id",
            unique=True,
            postgresql_where=text("status = 'active' AND quantity IS NULL"),
        ),
        # What the sweeper and the "expiring soon" counts look for.
        Index(
            "ix_claims_active_expires_at",
            "expires_at",
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_claims_provider_id_status", "provider_id", "status"),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="pledge_is_positive"),
        CheckConstraint(
            "delivered_quantity >= 0 AND delivered_quantity <= coalesce(quantity, 1)",
            name="delivered_within_pledge",
        ),
        CheckConstraint(
            "verified_quantity >= 0 AND verified_quantity <= delivered_quantity",
            name="verified_within_delivered",
        ),
        CheckConstraint("(status = 'active') = (ended_at IS NULL)", name="ended_unless_active"),
        CheckConstraint(
            "status NOT IN ('released', 'failed', 'revoked') OR end_reason IS NOT NULL",
            name="ending_has_reason",
        ),
        CheckConstraint("extensions >= 0", name="extensions_not_negative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    need_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("needs.id"), index=True
    )
    provider_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("providers.id"))
    claimed_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id")
    )
    client_id: Mapped[str | None] = mapped_column(String(100))
    # The pledge of a divisible need; NULL for an indivisible one (which counts as one).
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    status: Mapped[ClaimStatus] = mapped_column(
        pg_enum(ClaimStatus, "claim_status"), server_default=ClaimStatus.ACTIVE.value
    )
    claimed_at: Mapped[datetime] = created_at_column()
    # When the claimant expects to deliver; the claim is overdue after it, expired after expires_at.
    expected_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    extensions: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    note: Mapped[str | None] = mapped_column(Text)
    # Logged and not disputed; of that, verified. Kept here so a single conditional UPDATE can
    # refuse an over-delivery, and so expiry can tell a delivered claim from a forgotten one.
    delivered_quantity: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    verified_quantity: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(Text)
    ended_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id")
    )
    ended_by_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
