"""Foundation: regions, providers, members and roles, children, needs, audit events,
access records and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 09:54:59.833050
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM_TYPES = (
    "provider_kind",
    "provider_status",
    "need_category",
    "region_level",
    "sex",
    "guardianship",
    "child_status",
    "role",
    "consent_scope",
    "urgency",
    "need_unit",
    "need_status",
)


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("login", name=op.f("uq_members_login")),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "government",
                "village_office",
                "school",
                "ngo",
                "business",
                "volunteer_group",
                "individual",
                name="provider_kind",
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("active", "suspended", name="provider_status"),
            server_default="active",
            nullable=False,
        ),
        sa.Column(
            "jurisdictions", postgresql.ARRAY(sa.String(length=12, collation="C")), nullable=False
        ),
        sa.Column(
            "categories",
            postgresql.ARRAY(
                sa.Enum(
                    "education",
                    "material",
                    "financial",
                    "medical",
                    "psychological",
                    "safety",
                    "family_contact",
                    "after_school_care",
                    "legal",
                    name="need_category",
                )
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    op.create_index(
        "ix_providers_jurisdictions",
        "providers",
        ["jurisdictions"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=12, collation="C"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "level",
            sa.Enum("province", "city", "county", "township", "village", name="region_level"),
            nullable=False,
        ),
        sa.Column("parent_code", sa.String(length=12, collation="C"), nullable=True),
        sa.CheckConstraint(
            "code ~ '^[0-9]+$' AND length(code) IN (2, 4, 6, 9, 12)",
            name=op.f("ck_regions_code_shape"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["regions.code"], name=op.f("fk_regions_parent_code_regions")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    op.create_index(op.f("ix_regions_parent_code"), "regions", ["parent_code"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("actor_member_id", sa.UUID(), nullable=True),
        sa.Column("actor_provider_id", sa.UUID(), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_member_id"],
            ["members.id"],
            name=op.f("fk_audit_events_actor_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_provider_id"],
            ["providers.id"],
            name=op.f("fk_audit_events_actor_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"], unique=False)
    op.create_index(
        "ix_audit_events_entity", "audit_events", ["entity_type", "entity_id"], unique=False
    )
    op.create_table(
        "children",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("region_code", sa.String(length=12, collation="C"), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.Enum("female", "male", name="sex"), nullable=True),
        sa.Column(
            "guardianship",
            sa.Enum(
                "grandparents", "relative", "entrusted", "one_parent", "none", name="guardianship"
            ),
            nullable=False,
        ),
        sa.Column("father_away", sa.Boolean(), nullable=False),
        sa.Column("mother_away", sa.Boolean(), nullable=False),
        sa.Column("parents_away_since", sa.Date(), nullable=True),
        sa.Column("parents_work_location", sa.String(length=200), nullable=True),
        sa.Column("school", sa.String(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "merged", name="child_status"),
            server_default="active",
            nullable=False,
        ),
        sa.Column("registered_by_provider_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "parents_away_since IS NULL OR father_away OR mother_away",
            name=op.f("ck_children_absence_has_parent"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_children_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_provider_id"],
            ["providers.id"],
            name=op.f("fk_children_registered_by_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_children")),
        sa.UniqueConstraint("code", name=op.f("uq_children_code")),
    )
    op.create_index("ix_children_region_code_id", "children", ["region_code", "id"], unique=False)
    op.create_table(
        "role_grants",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "platform_admin",
                "government_officer",
                "child_director",
                "provider_admin",
                "coordinator",
                "worker",
                "auditor",
                name="role",
            ),
            nullable=False,
        ),
        sa.Column("jurisdiction", sa.String(length=12, collation="C"), nullable=False),
        sa.Column(
            "granted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_role_grants_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_role_grants_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grants")),
    )
    op.create_index(
        "ix_role_grants_live",
        "role_grants",
        ["member_id", "provider_id"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_index(
        op.f("ix_role_grants_provider_id"), "role_grants", ["provider_id"], unique=False
    )
    op.create_table(
        "child_identities",
        sa.Column("child_id", sa.UUID(), nullable=False),
        sa.Column("full_name", sa.String(length=100), nullable=False),
        sa.Column("name_pinyin", sa.String(length=300), nullable=False),
        sa.Column("id_number_hash", sa.String(length=64), nullable=True),
        sa.Column("id_number_tail", sa.String(length=4), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("guardian_name", sa.String(length=100), nullable=True),
        sa.Column("guardian_relation", sa.String(length=50), nullable=True),
        sa.Column("guardian_phone", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_child_identities_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("child_id", name=op.f("pk_child_identities")),
    )
    op.create_index(
        op.f("ix_child_identities_name_pinyin"), "child_identities", ["name_pinyin"], unique=False
    )
    op.create_index(
        "uq_child_identities_id_number_hash",
        "child_identities",
        ["id_number_hash"],
        unique=True,
        postgresql_where=sa.text("id_number_hash IS NOT NULL"),
    )
    op.create_table(
        "guardian_consents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("child_id", sa.UUID(), nullable=False),
        sa.Column(
            "covers",
            postgresql.ARRAY(sa.Enum("identity_to_claimant", name="consent_scope")),
            nullable=False,
        ),
        sa.Column("given_by", sa.String(length=100), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_guardian_consents_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_consents")),
    )
    op.create_index(
        op.f("ix_guardian_consents_child_id"), "guardian_consents", ["child_id"], unique=False
    )
    op.create_table(
        "access_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("child_id", sa.UUID(), nullable=False),
        sa.Column(
            "accessed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("member_id", sa.UUID(), nullable=True),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_access_records_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_access_records_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_access_records_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_records")),
    )
    op.create_index(
        op.f("ix_access_records_child_id"), "access_records", ["child_id"], unique=False
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("actor", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "needs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("child_id", sa.UUID(), nullable=False),
        sa.Column("region_code", sa.String(length=12, collation="C"), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "education",
                "material",
                "financial",
                "medical",
                "psychological",
                "safety",
                "family_contact",
                "after_school_care",
                "legal",
                name="need_category",
            ),
            nullable=False,
        ),
        sa.Column(
            "urgency", sa.Enum("critical", "high", "medium", "low", name="urgency"), nullable=False
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("unit", sa.Enum("yuan", "items", "hours", name="need_unit"), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "claimed",
                "in_progress",
                "partially_met",
                "fulfilled",
                "cancelled",
                name="need_status",
            ),
            server_default="open",
            nullable=False,
        ),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("opened_by_provider_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)",
            name=op.f("ck_needs_cancelled_has_reason"),
        ),
        sa.CheckConstraint(
            "(quantity IS NULL AND unit IS NULL) OR (quantity > 0 AND unit IS NOT NULL)",
            name=op.f("ck_needs_divisible_has_quantity_and_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_needs_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_provider_id"],
            ["providers.id"],
            name=op.f("fk_needs_opened_by_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_needs_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_needs")),
    )
    op.create_index(op.f("ix_needs_child_id"), "needs", ["child_id"], unique=False)
    op.create_index("ix_needs_region_code_status", "needs", ["region_code", "status"], unique=False)
    op.create_index("ix_needs_updated_at_id", "needs", ["updated_at", "id"], unique=False)
    op.create_index(
        "ix_needs_urgency_created_at_id", "needs", ["urgency", "created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_needs_urgency_created_at_id", table_name="needs")
    op.drop_index("ix_needs_updated_at_id", table_name="needs")
    op.drop_index("ix_needs_region_code_status", table_name="needs")
    op.drop_index(op.f("ix_needs_child_id"), table_name="needs")
    op.drop_table("needs")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_access_records_child_id"), table_name="access_records")
    op.drop_table("access_records")
    op.drop_index(op.f("ix_guardian_consents_child_id"), table_name="guardian_consents")
    op.drop_table("guardian_consents")
    op.drop_index(
        "uq_child_identities_id_number_hash",
        table_name="child_identities",
        postgresql_where=sa.text("id_number_hash IS NOT NULL"),
    )
    op.drop_index(op.f("ix_child_identities_name_pinyin"), table_name="child_identities")
    op.drop_table("child_identities")
    op.drop_index(op.f("ix_role_grants_provider_id"), table_name="role_grants")
    op.drop_index(
        "ix_role_grants_live",
        table_name="role_grants",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.drop_table("role_grants")
    op.drop_index("ix_children_region_code_id", table_name="children")
    op.drop_table("children")
    op.drop_index("ix_audit_events_entity", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_action"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_regions_parent_code"), table_name="regions")
    op.drop_table("regions")
    op.drop_index("ix_providers_jurisdictions", table_name="providers", postgresql_using="gin")
    op.drop_table("providers")
    op.drop_table("members")
    for enum_type in ENUM_TYPES:
        sa.Enum(name=enum_type).drop(op.get_bind(), checkfirst=True)
