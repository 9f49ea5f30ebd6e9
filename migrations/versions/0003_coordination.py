"""Coordination: claims and deliveries, merges of duplicate children, and a tamper-evident,
append-only audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:07:27.569046
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM_TYPES = ("claim_status", "delivery_status")

# Arbitrary and fixed, distinct from the migration lock: serialises appends to the audit chain.
AUDIT_CHAIN_LOCK = 7_402_151_917

# The hash of an event covers its position, content and the previous event's hash. The JSON
# array's text is canonical (jsonb normalises objects), and time is counted in microseconds since
# the epoch, so the digest does not depend on the session's time zone or on any client.
AUDIT_DIGEST_FUNCTION = """
CREATE FUNCTION audit_event_digest(e audit_events) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(jsonb_build_array(
    e.chain_seq,
    (extract(epoch FROM e.occurred_at) * 1000000)::bigint,
    e.action, e.entity_type, e.entity_id,
    e.actor_member_id, e.actor_provider_id, e.client_id, e.region_code,
    e.data, e.prev_hash
  )::text, 'UTF8')), 'hex')
$$
"""

BACKFILL_AUDIT_CHAIN = """
DO $$
DECLARE
  event audit_events;
  previous text := repeat('0', 64);
  seq bigint := 0;
BEGIN
  FOR event IN SELECT * FROM audit_events ORDER BY id LOOP
    seq := seq + 1;
    event.chain_seq := seq;
    event.prev_hash := previous;
    previous := audit_event_digest(event);
    UPDATE audit_events
       SET chain_seq = seq, prev_hash = event.prev_hash, hash = previous
     WHERE id = event.id;
  END LOOP;
END
$$
"""

# Appending takes a transaction-scoped lock, so concurrent writers join the chain one at a time;
# each statement of a plpgsql function sees what the previous lock holder committed.
AUDIT_CHAIN_TRIGGER = (
    f"""
CREATE FUNCTION audit_events_link() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock({AUDIT_CHAIN_LOCK});
  SELECT chain_seq, hash INTO last_seq, last_hash
    FROM audit_events ORDER BY chain_seq DESC LIMIT 1;
  NEW.chain_seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
  NEW.hash := audit_event_digest(NEW);
  RETURN NEW;
END
$$
""",
    """
CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_link()
""",
)

# Whoever asks, the hub's own role included: an event once written stays as written.
AUDIT_APPEND_ONLY_TRIGGER = (
    """
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()
""",
)


def upgrade() -> None:
    op.create_table(
        "child_merges",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kept_child_id", sa.UUID(), nullable=False),
        sa.Column("merged_child_id", sa.UUID(), nullable=False),
        sa.Column("moved_need_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "merged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("merged_by_member_id", sa.UUID(), nullable=True),
        sa.Column("merged_by_provider_id", sa.UUID(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undo_reason", sa.Text(), nullable=True),
        sa.Column("undone_by_member_id", sa.UUID(), nullable=True),
        sa.Column("undone_by_provider_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kept_child_id"], ["children.id"], name=op.f("fk_child_merges_kept_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["merged_by_member_id"],
            ["members.id"],
            name=op.f("fk_child_merges_merged_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_by_provider_id"],
            ["providers.id"],
            name=op.f("fk_child_merges_merged_by_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_child_id"],
            ["children.id"],
            name=op.f("fk_child_merges_merged_child_id_children"),
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_member_id"],
            ["members.id"],
            name=op.f("fk_child_merges_undone_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_provider_id"],
            ["providers.id"],
            name=op.f("fk_child_merges_undone_by_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_merges")),
    )
    op.create_index(
        op.f("ix_child_merges_kept_child_id"), "child_merges", ["kept_child_id"], unique=False
    )
    op.create_index(
        "uq_child_merges_merged_child_id_live",
        "child_merges",
        ["merged_child_id"],
        unique=True,
        postgresql_where=sa.text("undone_at IS NULL"),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("need_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("claimed_by_member_id", sa.UUID(), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "fulfilled",
                "released",
                "expired",
                "failed",
                "revoked",
                name="claim_status",
            ),
            server_default="active",
            nullable=False,
        ),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expected_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extensions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "delivered_quantity",
            sa.Numeric(precision=14, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "verified_quantity",
            sa.Numeric(precision=14, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("ended_by_member_id", sa.UUID(), nullable=True),
        sa.Column("ended_by_provider_id", sa.UUID(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "(status = 'active') = (ended_at IS NULL)", name=op.f("ck_claims_ended_unless_active")
        ),
        sa.CheckConstraint(
            "status NOT IN ('released', 'failed', 'revoked') OR end_reason IS NOT NULL",
            name=op.f("ck_claims_ending_has_reason"),
        ),
        sa.CheckConstraint(
            "delivered_quantity >= 0 AND delivered_quantity <= coalesce(quantity, 1)",
            name=op.f("ck_claims_delivered_within_pledge"),
        ),
        sa.CheckConstraint("extensions >= 0", name=op.f("ck_claims_extensions_not_negative")),
        sa.CheckConstraint(
            "quantity IS NULL OR quantity > 0", name=op.f("ck_claims_pledge_is_positive")
        ),
        sa.CheckConstraint(
            "verified_quantity >= 0 AND verified_quantity <= delivered_quantity",
            name=op.f("ck_claims_verified_within_delivered"),
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by_member_id"],
            ["members.id"],
            name=op.f("fk_claims_claimed_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_member_id"],
            ["members.id"],
            name=op.f("fk_claims_ended_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_provider_id"],
            ["providers.id"],
            name=op.f("fk_claims_ended_by_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"], name=op.f("fk_claims_need_id_needs")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_claims_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    op.create_index(
        "ix_claims_active_expires_at",
        "claims",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(op.f("ix_claims_need_id"), "claims", ["need_id"], unique=False)
    op.create_index(
        "ix_claims_provider_id_status", "claims", ["provider_id", "status"], unique=False
    )
    op.create_index(
        "uq_claims_need_id_active_indivisible",
        "claims",
        ["need_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active' AND quantity IS NULL"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("claim_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("logged_by_member_id", sa.UUID(), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("logged", "verified", "disputed", name="delivery_status"),
            server_default="logged",
            nullable=False,
        ),
        sa.Column(
            "logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_member_id", sa.UUID(), nullable=True),
        sa.Column("reviewed_by_provider_id", sa.UUID(), nullable=True),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "(status = 'disputed') = (dispute_reason IS NOT NULL)",
            name=op.f("ck_deliveries_disputed_has_reason"),
        ),
        sa.CheckConstraint(
            "(status = 'logged') = (reviewed_at IS NULL)",
            name=op.f("ck_deliveries_reviewed_unless_logged"),
        ),
        sa.CheckConstraint(
            "quantity IS NULL OR quantity > 0", name=op.f("ck_deliveries_quantity_is_positive")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_deliveries_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["logged_by_member_id"],
            ["members.id"],
            name=op.f("fk_deliveries_logged_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_deliveries_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_member_id"],
            ["members.id"],
            name=op.f("fk_deliveries_reviewed_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_provider_id"],
            ["providers.id"],
            name=op.f("fk_deliveries_reviewed_by_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(op.f("ix_deliveries_claim_id"), "deliveries", ["claim_id"], unique=False)
    op.add_column("audit_events", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.execute(AUDIT_DIGEST_FUNCTION)
    # Events written before the chain existed join it in the order they were written.
    op.execute(BACKFILL_AUDIT_CHAIN)
    for column in ("chain_seq", "prev_hash", "hash"):
        op.alter_column("audit_events", column, nullable=False)
    for statement in (*AUDIT_CHAIN_TRIGGER, *AUDIT_APPEND_ONLY_TRIGGER):
        op.execute(statement)
    op.create_index("uq_audit_events_chain_seq", "audit_events", ["chain_seq"], unique=True)
    op.add_column("children", sa.Column("merged_into_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_children_merged_into_id_children"),
        "children",
        "children",
        ["merged_into_id"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_children_merged_has_target"),
        "children",
        "(status = 'merged') = (merged_into_id IS NOT NULL)",
    )
    op.add_column(
        "needs",
        sa.Column(
            "pledged_quantity",
            sa.Numeric(precision=14, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_needs_pledges_within_quantity"),
        "needs",
        "pledged_quantity >= 0 AND pledged_quantity <= coalesce(quantity, 1)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_needs_pledges_within_quantity"), "needs", type_="check")
    op.drop_column("needs", "pledged_quantity")
    op.drop_constraint(op.f("ck_children_merged_has_target"), "children", type_="check")
    op.drop_constraint(op.f("fk_children_merged_into_id_children"), "children", type_="foreignkey")
    op.drop_column("children", "merged_into_id")
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.execute("DROP TRIGGER audit_events_chain ON audit_events")
    op.execute("DROP FUNCTION audit_events_refuse_change()")
    op.execute("DROP FUNCTION audit_events_link()")
    op.execute("DROP FUNCTION audit_event_digest(audit_events)")
    op.drop_index("uq_audit_events_chain_seq", table_name="audit_events")
    op.drop_column("audit_events", "hash")
    op.drop_column("audit_events", "prev_hash")
    op.drop_column("audit_events", "chain_seq")
    op.drop_index(op.f("ix_deliveries_claim_id"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index(
        "uq_claims_need_id_active_indivisible",
        table_name="claims",
        postgresql_where=sa.text("status = 'active' AND quantity IS NULL"),
    )
    op.drop_index("ix_claims_provider_id_status", table_name="claims")
    op.drop_index(op.f("ix_claims_need_id"), table_name="claims")
    op.drop_index(
        "ix_claims_active_expires_at",
        table_name="claims",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_table("claims")
    op.drop_index(
        "uq_child_merges_merged_child_id_live",
        table_name="child_merges",
        postgresql_where=sa.text("undone_at IS NULL"),
    )
    op.drop_index(op.f("ix_child_merges_kept_child_id"), table_name="child_merges")
    op.drop_table("child_merges")
    for enum_type in ENUM_TYPES:
        sa.Enum(name=enum_type).drop(op.get_bind(), checkfirst=True)
