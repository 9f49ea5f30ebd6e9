"""Providers of aid, the people who act for them, and the roles they hold."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import (
    Base,
    created_at_column,
    pg_enum,
    region_code_type,
    updated_at_column,
    uuid_pk,
)
from hub.vocabulary import NeedCategory, ProviderKind, ProviderStatus, Role


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (Index("ix_providers_jurisdictions", "jurisdictions", postgresql_using="gin"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProviderKind] = mapped_column(pg_enum(ProviderKind, "provider_kind"))
    status: Mapped[ProviderStatus] = mapped_column(
        pg_enum(ProviderStatus, "provider_status"), server_default=ProviderStatus.ACTIVE.value
    )
    # Region-code prefixes the provider works in; each covers every region below it.
    jurisdictions: Mapped[list[str]] = mapped_column(ARRAY(region_code_type()))
    categories: Mapped[list[NeedCategory]] = mapped_column(
        ARRAY(pg_enum(NeedCategory, "need_category"))
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class Member(Base):
    """A person who acts for one or more providers."""

    __tablename__ = "members"

    id: Mapped[uuid.UUID] = uuid_pk()
    login: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()


class RoleGrant(Base):
    """One role a member (or a client) holds in one provider, within one jurisdiction."""

    __tablename__ = "role_grants"
    __table_args__ = (
        Index(
            "ix_role_grants_live",
            "member_id",
            "provider_id",
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ix_role_grants_client_live",
            "oauth_client_id",
            postgresql_where=text("revoked_at IS NULL"),
        ),
        CheckConstraint(
            "(member_id IS NULL) <> (oauth_client_id IS NULL)", name="member_or_client"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="CASCADE")
    )
    oauth_client_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("oauth_clients.id", ondelete="CASCADE")
    )
    provider_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(pg_enum(Role, "role"))
    jurisdiction: Mapped[str] = mapped_column(region_code_type())
    granted_at: Mapped[datetime] = created_at_column()
    granted_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="SET NULL")
    )
