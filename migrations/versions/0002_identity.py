"""Identity: OAuth clients, signing keys, codes, refresh-token families, replay guards,
member credentials and invitations, login attempts; client role grants and who granted them;
the region of audit events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:05:47.646995
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column(
            "attempted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        "ix_login_attempts_address_attempted_at",
        "login_attempts",
        ["address", "attempted_at"],
        unique=False,
    )
    op.create_index(
        "ix_login_attempts_login_attempted_at",
        "login_attempts",
        ["login", "attempted_at"],
        unique=False,
    )
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_access_tokens")),
    )
    op.create_index(
        op.f("ix_revoked_access_tokens_expires_at"),
        "revoked_access_tokens",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("private_jwe", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "used_client_assertions",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_used_client_assertions")),
    )
    op.create_index(
        "ix_used_client_assertions_expires_at",
        "used_client_assertions",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "invitations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("invited_by_member_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invited_by_member_id"],
            ["members.id"],
            name=op.f("fk_invitations_invited_by_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_invitations_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_invitations")),
    )
    op.create_index(op.f("ix_invitations_member_id"), "invitations", ["member_id"], unique=False)
    op.create_table(
        "member_credentials",
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_credentials_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_credentials")),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=True),
        sa.Column("jwks", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("grant_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("redirect_uris", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("external_issuer", sa.Text(), nullable=True),
        sa.Column("external_jwks_uri", sa.Text(), nullable=True),
        sa.Column("external_audience", sa.Text(), nullable=True),
        sa.Column("created_by_member_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(token_endpoint_auth_method = 'external') = (external_issuer IS NOT NULL)",
            name=op.f("ck_oauth_clients_issuer_for_external"),
        ),
        sa.CheckConstraint(
            "(token_endpoint_auth_method = 'private_key_jwt') = (jwks IS NOT NULL)",
            name=op.f("ck_oauth_clients_keys_for_private_key_jwt"),
        ),
        sa.CheckConstraint(
            "token_endpoint_auth_method IN "
            "('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'external')",
            name=op.f("ck_oauth_clients_auth_method_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_member_id"],
            ["members.id"],
            name=op.f("fk_oauth_clients_created_by_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_oauth_clients_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
        sa.UniqueConstraint("external_issuer", name=op.f("uq_oauth_clients_external_issuer")),
    )
    op.create_index(
        op.f("ix_oauth_clients_provider_id"), "oauth_clients", ["provider_id"], unique=False
    )
    op.create_table(
        "authorization_codes",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.id"],
            name=op.f("fk_authorization_codes_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_authorization_codes_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_authorization_codes_code_hash")),
    )
    op.create_index(
        op.f("ix_authorization_codes_client_id"), "authorization_codes", ["client_id"], unique=False
    )
    op.create_table(
        "token_families",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("authorization_code_id", sa.UUID(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["authorization_code_id"],
            ["authorization_codes.id"],
            name=op.f("fk_token_families_authorization_code_id_authorization_codes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.id"],
            name=op.f("fk_token_families_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_token_families_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_families")),
    )
    op.create_index(
        op.f("ix_token_families_authorization_code_id"),
        "token_families",
        ["authorization_code_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_token_families_client_id"), "token_families", ["client_id"], unique=False
    )
    op.create_index(
        op.f("ix_token_families_member_id"), "token_families", ["member_id"], unique=False
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["token_families.id"],
            name=op.f("fk_refresh_tokens_family_id_token_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_refresh_tokens_family_id"), "refresh_tokens", ["family_id"], unique=False
    )
    op.add_column(
        "audit_events", sa.Column("region_code", sa.String(length=12, collation="C"), nullable=True)
    )
    op.create_index(
        "ix_audit_events_region_code_id", "audit_events", ["region_code", "id"], unique=False
    )
    op.add_column("role_grants", sa.Column("oauth_client_id", sa.UUID(), nullable=True))
    op.add_column("role_grants", sa.Column("granted_by_member_id", sa.UUID(), nullable=True))
    op.add_column("role_grants", sa.Column("revoked_by_member_id", sa.UUID(), nullable=True))
    op.alter_column("role_grants", "member_id", existing_type=sa.UUID(), nullable=True)
    op.create_check_constraint(
        op.f("ck_role_grants_member_or_client"),
        "role_grants",
        "(member_id IS NULL) <> (oauth_client_id IS NULL)",
    )
    op.create_index(
        "ix_role_grants_client_live",
        "role_grants",
        ["oauth_client_id"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_foreign_key(
        op.f("fk_role_grants_revoked_by_member_id_members"),
        "role_grants",
        "members",
        ["revoked_by_member_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_role_grants_oauth_client_id_oauth_clients"),
        "role_grants",
        "oauth_clients",
        ["oauth_client_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_role_grants_granted_by_member_id_members"),
        "role_grants",
        "members",
        ["granted_by_member_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_role_grants_granted_by_member_id_members"), "role_grants", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_role_grants_oauth_client_id_oauth_clients"), "role_grants", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_role_grants_revoked_by_member_id_members"), "role_grants", type_="foreignkey"
    )
    op.drop_index(
        "ix_role_grants_client_live",
        table_name="role_grants",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.drop_constraint(op.f("ck_role_grants_member_or_client"), "role_grants", type_="check")
    # Clients' grants go with the clients; the foundation's grants are members' only.
    op.execute("DELETE FROM role_grants WHERE member_id IS NULL")
    op.alter_column("role_grants", "member_id", existing_type=sa.UUID(), nullable=False)
    op.drop_column("role_grants", "revoked_by_member_id")
    op.drop_column("role_grants", "granted_by_member_id")
    op.drop_column("role_grants", "oauth_client_id")
    op.drop_index("ix_audit_events_region_code_id", table_name="audit_events")
    op.drop_column("audit_events", "region_code")
    op.drop_index(op.f("ix_refresh_tokens_family_id"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index(op.f("ix_token_families_member_id"), table_name="token_families")
    op.drop_index(op.f("ix_token_families_client_id"), table_name="token_families")
    op.drop_index(op.f("ix_token_families_authorization_code_id"), table_name="token_families")
    op.drop_table("token_families")
    op.drop_index(op.f("ix_authorization_codes_client_id"), table_name="authorization_codes")
    op.drop_table("authorization_codes")
    op.drop_index(op.f("ix_oauth_clients_provider_id"), table_name="oauth_clients")
    op.drop_table("oauth_clients")
    op.drop_table("member_credentials")
    op.drop_index(op.f("ix_invitations_member_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("ix_used_client_assertions_expires_at", table_name="used_client_assertions")
    op.drop_table("used_client_assertions")
    op.drop_table("signing_keys")
    op.drop_index(op.f("ix_revoked_access_tokens_expires_at"), table_name="revoked_access_tokens")
    op.drop_table("revoked_access_tokens")
    op.drop_index("ix_login_attempts_login_attempted_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_address_attempted_at", table_name="login_attempts")
    op.drop_table("login_attempts")
