"""Administrative regions, named by their statistical codes."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, pg_enum, region_code_type
from hub.vocabulary import RegionLevel


class Region(Base):
    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint(
            "code ~ '^[0-9]+$' AND length(code) IN (2, 4, 6, 9, 12)", name="code_shape"
        ),
    )

    code: Mapped[str] = mapped_column(region_code_type(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[RegionLevel] = mapped_column(pg_enum(RegionLevel, "region_level"))
    parent_code: Mapped[str | None] = mapped_column(
        region_code_type(), ForeignKey("regions.code"), index=True
    )
