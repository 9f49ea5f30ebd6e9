"""Protocol: persisted GraphQL documents shared by every hub process, documents trusted per
client, and clients restricted to their trusted documents.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 13:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persisted_documents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_persisted_documents_sha256_hex")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_persisted_documents")),
    )
    op.create_table(
        "trusted_documents",
        sa.Column("oauth_client_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registered_by_member_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["oauth_client_id"],
            ["oauth_clients.id"],
            name=op.f("fk_trusted_documents_oauth_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_member_id"],
            ["members.id"],
            name=op.f("fk_trusted_documents_registered_by_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["persisted_documents.sha256"],
            name=op.f("fk_trusted_documents_sha256_persisted_documents"),
        ),
        sa.PrimaryKeyConstraint("oauth_client_id", "sha256", name=op.f("pk_trusted_documents")),
    )
    op.create_index(
        op.f("ix_trusted_documents_sha256"), "trusted_documents", ["sha256"], unique=False
    )
    op.add_column(
        "oauth_clients",
        sa.Column(
            "trusted_documents_only",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("oauth_clients", "trusted_documents_only")
    op.drop_index(op.f("ix_trusted_documents_sha256"), table_name="trusted_documents")
    op.drop_table("trusted_documents")
    op.drop_table("persisted_documents")
