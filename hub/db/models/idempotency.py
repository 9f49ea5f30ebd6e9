"""Idempotency keys of create and claim mutations, and what each first request produced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, created_at_column


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    # Keys are scoped to the acting provider and member or client, so two callers cannot collide.
    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    result_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
