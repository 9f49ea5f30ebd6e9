"""Each principal's place in its rate limit, shared by every hub process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base


class RateLimit(Base):
    __tablename__ = "rate_limits"

    # "member:<id>", "client:<client id>" or "address:<client address>".
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # GCRA's theoretical arrival time: the moment this key's spending would be paid off at the
    # allowed rate. A key whose time has passed has its whole budget, exactly as a key with no
    # row, so such rows can be deleted at any moment.
    paid_off_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
