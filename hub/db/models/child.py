"""Registered children. The identifying part lives in its own table so it can be guarded apart."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
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
from hub.vocabulary import (
    ChildStatus,
    ConsentMethod,
    ConsentScope,
    Guardianship,
    ProviderKind,
    Sex,
)


class Child(Base):
    """Pseudonymous facts and case detail of one child; no names, numbers or addresses."""

    __tablename__ = "children"
    __table_args__ = (
        Index("ix_children_region_code_id", "region_code", "id"),
        CheckConstraint(
            "parents_away_since IS NULL OR father_away OR mother_away", name="absence_has_parent"
        ),
        CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Pseudonymous register code, safe to show to any provider working in the area.
    code: Mapped[str] = mapped_column(String(24), unique=True)
    region_code: Mapped[str] = mapped_column(region_code_type(), ForeignKey("regions.code"))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[Sex | None] = mapped_column(pg_enum(Sex, "sex"))
    guardianship: Mapped[Guardianship] = mapped_column(pg_enum(Guardianship, "guardianship"))
    father_away: Mapped[bool] = mapped_column(Boolean)
    mother_away: Mapped[bool] = mapped_column(Boolean)
    parents_away_since: Mapped[date | None] = mapped_column(Date)
    parents_work_location: Mapped[str | None] = mapped_column(String(200))
    school: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ChildStatus] = mapped_column(
        pg_enum(ChildStatus, "child_status"), server_default=ChildStatus.ACTIVE.value
    )
    # The record this one was merged into, while it is merged.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("children.id")
    )
    registered_by_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class ChildIdentity(Base):
    """Names, ID number, address and guardian contacts: the personal part of a child's record.

    The ID number is kept only as a keyed hash (for exact-duplicate detection) and its last four
    characters (for a person to confirm they have the right child).
    """

    __tablename__ = "child_identities"
    __table_args__ = (
        Index(
            "uq_child_identities_id_number_hash",
            "id_number_hash",
            unique=True,
            postgresql_where=text("id_number_hash IS NOT NULL"),
        ),
    )

    child_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("children.id", ondelete="CASCADE"), primary_key=True
    )
    full_name: Mapped[str] = mapped_column(String(100))
    name_pinyin: Mapped[str] = mapped_column(String(300), index=True)
    id_number_hash: Mapped[str | None] = mapped_column(String(64))
    id_number_tail: Mapped[str | None] = mapped_column(String(4))
    address: Mapped[str | None] = mapped_column(Text)
    guardian_name: Mapped[str | None] = mapped_column(String(100))
    guardian_relation: Mapped[str | None] = mapped_column(String(50))
    guardian_phone: Mapped[str | None] = mapped_column(String(30))


class GuardianConsent(Base):
    """One consent a guardian gave for a child: what it allows, with whom, how it was given,
    and from when until it expires or is withdrawn.

    The audience is a kind of provider, one named provider, or neither: then the claimants
    whose kind needs no naming (the policy says which). Keeping the identity on the register
    has no audience.
    """

    __tablename__ = "guardian_consents"
    __table_args__ = (
        CheckConstraint("provider_kind IS NULL OR provider_id IS NULL", name="one_audience"),
        CheckConstraint(
            "scope <> 'keep_identity' OR (provider_kind IS NULL AND provider_id IS NULL)",
            name="keeping_has_no_audience",
        ),
        CheckConstraint(
            "withdrawal_reason IS NULL OR withdrawn_at IS NOT NULL", name="withdrawal_complete"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    child_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("children.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[ConsentScope] = mapped_column(pg_enum(ConsentScope, "consent_scope"))
    provider_kind: Mapped[ProviderKind | None] = mapped_column(
        pg_enum(ProviderKind, "provider_kind")
    )
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    # Who consented, by their relation to the child ("grandmother"): a name is identity.
    given_by: Mapped[str] = mapped_column(String(100))
    # NULL only for consents recorded before the method was.
    method: Mapped[ConsentMethod | None] = mapped_column(pg_enum(ConsentMethod, "consent_method"))
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = created_at_column()
    recorded_by_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    recorded_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id")
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    withdrawn_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id")
    )
    withdrawal_reason: Mapped[str | None] = mapped_column(String(500))
