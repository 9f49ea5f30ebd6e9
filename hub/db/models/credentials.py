"""How members sign in: password hashes, invitations, and the record of login attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Identity, Index, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import (
    Base,
    created_at_column,
    pg_enum,
    region_code_type,
    updated_at_column,
)
from hub.vocabulary import Role


class MemberCredential(Base):
    """A member's password, as a memory-hard (argon2id) hash."""

    __tablename__ = "member_credentials"

    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = updated_at_column()


class Invitation(Base):
    """A one-time link offering a person a role; stored as a hash. A new member chooses a
    password through it, an existing one accepts with theirs."""

    __tablename__ = "invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    invited_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The role offered, granted (with ``grant_id`` as its id) when the person accepts; NULL on
    # invitations made before offers, whose grant was made at once.
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id", ondelete="CASCADE")
    )
    role: Mapped[Role | None] = mapped_column(pg_enum(Role, "role"))
    jurisdiction: Mapped[str | None] = mapped_column(region_code_type())
    grant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class LoginAttempt(Base):
    """One try at the login page; failures within a window limit further tries."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_login_attempted_at", "login", "attempted_at"),
        Index("ix_login_attempts_address_attempted_at", "address", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    login: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = created_at_column()
