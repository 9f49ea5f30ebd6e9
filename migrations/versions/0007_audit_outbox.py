"""The audit chain is linked after commit, by one appender at a time, instead of inside every
writing transaction.

Before, each audit insert took one advisory lock until its transaction committed, so every
write of every hub process committed one after the other. Now an event is inserted unlinked
(``chain_seq``, ``prev_hash`` and ``hash`` empty) and commits with its change as before; then
``audit_chain_pending()`` links the committed, unlinked events in the order it finds them
(oldest id first), holding the same lock only for that short walk. Every hub process calls it
in the background, and before any read of the audit log, so readers see every committed event
linked. Linking is the one change an event ever accepts: the guard lets an unlinked row be
linked, computes the link itself (whatever the UPDATE said), and refuses everything else.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 13:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lock of migration 0003: linking stays one appender at a time, across all processes.
AUDIT_CHAIN_LOCK = 7_402_151_917
CHAIN_COLUMNS = ("chain_seq", "prev_hash", "hash")

# Content columns: an UPDATE that changes any of them is refused, linked or not.
GUARD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash text;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.chain_seq IS NULL
     AND (NEW.id, NEW.occurred_at, NEW.action, NEW.entity_type, NEW.entity_id,
          NEW.actor_member_id, NEW.actor_provider_id, NEW.client_id, NEW.region_code, NEW.data)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.occurred_at, OLD.action, OLD.entity_type, OLD.entity_id,
          OLD.actor_member_id, OLD.actor_provider_id, OLD.client_id, OLD.region_code, OLD.data)
  THEN
    -- Linking an unlinked event: the link is computed here, under the chain's lock.
    PERFORM pg_advisory_xact_lock({AUDIT_CHAIN_LOCK});
    SELECT chain_seq, hash INTO last_seq, last_hash
      FROM audit_events WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1;
    NEW.chain_seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := audit_event_digest(NEW);
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

# ``wait``: false in the background (another process is already linking: leave it to it), true
# before a read (return once everything committed so far is linked).
CHAIN_PENDING_FUNCTION = f"""
CREATE FUNCTION audit_chain_pending(wait boolean DEFAULT true) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  pending bigint;
  linked integer := 0;
BEGIN
  IF wait THEN
    PERFORM pg_advisory_xact_lock({AUDIT_CHAIN_LOCK});
  ELSIF NOT pg_try_advisory_xact_lock({AUDIT_CHAIN_LOCK}) THEN
    RETURN 0;
  END IF;
  FOR pending IN SELECT id FROM audit_events WHERE chain_seq IS NULL ORDER BY id LOOP
    -- The guard computes the real link; the value given here only marks the row.
    UPDATE audit_events SET chain_seq = 0 WHERE id = pending;
    linked := linked + 1;
  END LOOP;
  RETURN linked;
END
$$
"""

# As in migration 0003.
OLD_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

OLD_LINK_TRIGGER = (
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


def upgrade() -> None:
    op.execute("DROP TRIGGER audit_events_chain ON audit_events")
    op.execute("DROP FUNCTION audit_events_link()")
    for column in CHAIN_COLUMNS:
        op.alter_column("audit_events", column, nullable=True)
    op.execute(GUARD_FUNCTION)
    op.execute(CHAIN_PENDING_FUNCTION)
    op.create_index(
        "ix_audit_events_unlinked",
        "audit_events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("chain_seq IS NULL"),
    )


def downgrade() -> None:
    # Link what is still unlinked, so the columns can be required again.
    op.execute("SELECT audit_chain_pending(true)")
    op.drop_index("ix_audit_events_unlinked", table_name="audit_events")
    op.execute("DROP FUNCTION audit_chain_pending(boolean)")
    op.execute(OLD_GUARD_FUNCTION)
    for column in CHAIN_COLUMNS:
        op.alter_column("audit_events", column, nullable=False)
    for statement in OLD_LINK_TRIGGER:
        op.execute(statement)
