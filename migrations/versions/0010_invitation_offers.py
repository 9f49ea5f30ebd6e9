"""Invitations carry the role they offer; the grant is made when the person accepts.

``inviteMember`` refused a login that existed at another provider ("that login is taken"), which
told any provider admin which logins exist anywhere on the hub, and its grant took effect before
the person had agreed to anything. An invitation now records the offer (provider, role,
jurisdiction, and the id the grant will have); accepting it makes the grant. Invitations made
before this revision already had their grant and carry no offer (the columns stay NULL).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = postgresql.ENUM(name="role", create_type=False)
    op.add_column("invitations", sa.Column("provider_id", sa.UUID(), nullable=True))
    op.add_column("invitations", sa.Column("role", role, nullable=True))
    op.add_column(
        "invitations", sa.Column("jurisdiction", sa.String(length=12, collation="C"), nullable=True)
    )
    op.add_column("invitations", sa.Column("grant_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_invitations_provider_id_providers"),
        "invitations",
        "providers",
        ["provider_id"],
        ["id"],
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_invitations_provider_id_providers"), "invitations", type_="foreignkey"
    )
    for column in ("grant_id", "jurisdiction", "role", "provider_id"):
        op.drop_column("invitations", column)
