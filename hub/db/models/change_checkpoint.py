"""Checkpoints of the change feed: which transaction ids a moment of the hub's clock follows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base


class ChangeCheckpoint(Base):
    __tablename__ = "change_checkpoints"

    # When the checkpoint was taken, by the database's clock, after its snapshot.
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    # ``pg_snapshot_xmin`` of that snapshot: every need changed after ``at`` has a
    # ``change_xid`` at least this (``hub.domain.change_checkpoints`` proves it).
    xid: Mapped[int] = mapped_column(BigInteger)
