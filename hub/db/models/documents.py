"""GraphQL documents the hub keeps: persisted by hash for every process, and trusted per client.

A persisted document is content-addressed: its key is the SHA-256 of its exact text, so anyone
may add one (automatic persisted queries) without being able to change what a hash means. A
trusted document is an admin's statement that one client may run that document; a client marked
``trusted_documents_only`` may run nothing else.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, created_at_column


class PersistedDocument(Base):
    __tablename__ = "persisted_documents"
    __table_args__ = (CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),)

    # Lowercase hex SHA-256 of the document's UTF-8 text.
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class TrustedDocument(Base):
    __tablename__ = "trusted_documents"

    oauth_client_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("oauth_clients.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(
        String(64), ForeignKey("persisted_documents.sha256"), primary_key=True, index=True
    )
    # What the operation is for, in the admin's words (shown in listings and the audit log).
    name: Mapped[str] = mapped_column(String(200))
    registered_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
