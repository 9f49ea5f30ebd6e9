"""Consents become records of their own: one use each, for a named audience, until an expiry.

A consent covered a list of uses (only ``identity_to_claimant`` existed) for whichever provider
held a claim. Each consent now says what it allows (``scope``: sharing case detail, sharing the
identity, or keeping the identity on the register at all), with whom (a kind of provider, one
named provider, or - with neither - the claimants whose kind needs no naming), how the guardian
gave it (``method``), until when (``expires_at``), who recorded it, and who withdrew it and why.

Each old consent becomes one ``identity`` consent for no named audience: what it allowed before.
``given_by`` says who consented by their relation to the child ("grandmother"), never by name,
which belongs to the identity; where an old consent named the guardian recorded in the child's
identity, the relation recorded there replaces the name (or "guardian" where none was recorded).
Its method was never recorded and stays NULL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCOPES = ("case_detail", "identity", "keep_identity")
METHODS = ("written", "in_person", "phone", "video_call")


def upgrade() -> None:
    method = postgresql.ENUM(*METHODS, name="consent_method")
    method.create(op.get_bind())
    kind = postgresql.ENUM(name="provider_kind", create_type=False)
    # Text until the old type of the same name is gone.
    op.add_column("guardian_consents", sa.Column("scope", sa.Text(), nullable=True))
    op.add_column("guardian_consents", sa.Column("provider_kind", kind, nullable=True))
    op.add_column("guardian_consents", sa.Column("provider_id", sa.UUID(), nullable=True))
    op.add_column("guardian_consents", sa.Column("method", method, nullable=True))
    op.add_column(
        "guardian_consents", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    for column in (
        "recorded_by_provider_id",
        "recorded_by_member_id",
        "withdrawn_by_provider_id",
        "withdrawn_by_member_id",
    ):
        op.add_column("guardian_consents", sa.Column(column, sa.UUID(), nullable=True))
    op.add_column(
        "guardian_consents", sa.Column("withdrawal_reason", sa.String(length=500), nullable=True)
    )
    op.execute("UPDATE guardian_consents SET scope = 'identity'")
    op.execute(
        "UPDATE guardian_consents AS c"
        " SET given_by = coalesce(nullif(i.guardian_relation, ''), 'guardian')"
        " FROM child_identities AS i"
        " WHERE i.child_id = c.child_id AND c.given_by = i.guardian_name"
    )
    op.drop_column("guardian_consents", "covers")
    op.execute("DROP TYPE consent_scope")
    postgresql.ENUM(*SCOPES, name="consent_scope").create(op.get_bind())
    op.execute(
        "ALTER TABLE guardian_consents"
        " ALTER COLUMN scope TYPE consent_scope USING scope::consent_scope,"
        " ALTER COLUMN scope SET NOT NULL"
    )
    for column, table in (
        ("provider_id", "providers"),
        ("recorded_by_provider_id", "providers"),
        ("recorded_by_member_id", "members"),
        ("withdrawn_by_provider_id", "providers"),
        ("withdrawn_by_member_id", "members"),
    ):
        op.create_foreign_key(
            op.f(f"fk_guardian_consents_{column}_{table}"),
            "guardian_consents",
            table,
            [column],
            ["id"],
        )
    op.create_check_constraint(
        op.f("ck_guardian_consents_one_audience"),
        "guardian_consents",
        "provider_kind IS NULL OR provider_id IS NULL",
    )
    op.create_check_constraint(
        op.f("ck_guardian_consents_keeping_has_no_audience"),
        "guardian_consents",
        "scope <> 'keep_identity' OR (provider_kind IS NULL AND provider_id IS NULL)",
    )
    op.create_check_constraint(
        op.f("ck_guardian_consents_withdrawal_complete"),
        "guardian_consents",
        "withdrawal_reason IS NULL OR withdrawn_at IS NOT NULL",
    )


def downgrade() -> None:
    for name in ("withdrawal_complete", "keeping_has_no_audience", "one_audience"):
        op.drop_constraint(op.f(f"ck_guardian_consents_{name}"), "guardian_consents", type_="check")
    # Only identity consents existed before; the others have nothing to become.
    op.execute("DELETE FROM guardian_consents WHERE scope <> 'identity'")
    op.execute("ALTER TABLE guardian_consents ALTER COLUMN scope TYPE text")
    op.execute("DROP TYPE consent_scope")
    old = postgresql.ENUM("identity_to_claimant", name="consent_scope")
    old.create(op.get_bind())
    op.add_column(
        "guardian_consents",
        sa.Column("covers", postgresql.ARRAY(old), nullable=True),
    )
    op.execute(
        "UPDATE guardian_consents SET covers = ARRAY['identity_to_claimant']::consent_scope[]"
    )
    op.alter_column("guardian_consents", "covers", nullable=False)
    for column, table in (
        ("provider_id", "providers"),
        ("recorded_by_provider_id", "providers"),
        ("recorded_by_member_id", "members"),
        ("withdrawn_by_provider_id", "providers"),
        ("withdrawn_by_member_id", "members"),
    ):
        op.drop_constraint(
            op.f(f"fk_guardian_consents_{column}_{table}"), "guardian_consents", type_="foreignkey"
        )
    for column in (
        "withdrawal_reason",
        "withdrawn_by_member_id",
        "withdrawn_by_provider_id",
        "recorded_by_member_id",
        "recorded_by_provider_id",
        "expires_at",
        "method",
        "provider_id",
        "provider_kind",
        "scope",
    ):
        op.drop_column("guardian_consents", column)
    op.execute("DROP TYPE consent_method")
