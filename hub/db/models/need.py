"""One concrete need of one child."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import (
    Base,
    created_at_column,
    pg_enum,
    region_code_type,
    updated_at_column,
    uuid_pk,
)
from hub.vocabulary import NeedCategory, NeedStatus, NeedUnit, Urgency


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (
        CheckConstraint(
            "(quantity IS NULL AND unit IS NULL) OR (quantity > 0 AND unit IS NOT NULL)",
            name="divisible_has_quantity_and_unit",
        ),
        CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)", name="cancelled_has_reason"
        ),
        # Rule 1 for divisible needs, enforced by the database: the pledges never exceed the
        # quantity (an indivisible need counts as one).
        CheckConstraint(
            "pledged_quantity >= 0 AND pledged_quantity <= coalesce(quantity, 1)",
            name="pledges_within_quantity",
        ),
        # Jurisdiction filters are region-code prefix ranges; status narrows them further.
        Index("ix_needs_region_code_status", "region_code", "status"),
        # The default order: most urgent first, then oldest, with the id as a tie-breaker.
        Index("ix_needs_urgency_created_at_id", "urgency", "created_at", "id"),
        # A reader's starting point by time (``changedSince``).
        Index("ix_needs_updated_at_id", "updated_at", "id"),
        # The change feed: in the order the changes' transactions were given their ids.
        Index("ix_needs_change_xid_id", "change_xid", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    child_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("children.id"), index=True
    )
    # The child's village, copied here so jurisdiction filters need no join.
    region_code: Mapped[str] = mapped_column(region_code_type(), ForeignKey("regions.code"))
    category: Mapped[NeedCategory] = mapped_column(pg_enum(NeedCategory, "need_category"))
    urgency: Mapped[Urgency] = mapped_column(pg_enum(Urgency, "urgency"))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    unit: Mapped[NeedUnit | None] = mapped_column(pg_enum(NeedUnit, "need_unit"))
    # What active and fulfilled claims hold, plus what ended claims delivered before ending.
    pledged_quantity: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    status: Mapped[NeedStatus] = mapped_column(
        pg_enum(NeedStatus, "need_status"), server_default=NeedStatus.OPEN.value
    )
    due_date: Mapped[date | None] = mapped_column(Date)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    opened_by_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # The id of the transaction that last wrote the row (``pg_current_xact_id()``, 64 bits, never
    # wraps), set by the database: this default on insert (COPY included), the trigger
    # ``needs_stamp_change_xid`` on every update, whichever code path makes it. Unlike
    # ``updated_at`` it needs no clock: once every transaction below an id has ended, no row
    # can appear below it later, which is what makes the change feed exact (``hub.domain.needs``).
    # Rows last written before migration 0006 hold 0.
    change_xid: Mapped[int] = mapped_column(
        BigInteger,
        server_default=text("(pg_current_xact_id())::text::bigint"),
        server_onupdate=FetchedValue(),
    )
