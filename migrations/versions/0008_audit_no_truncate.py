"""Audit events refuse TRUNCATE too.

The append-only trigger (migration 0003) refuses UPDATE and DELETE row by row; TRUNCATE fires no
row triggers, so it could still empty the log at a stroke, and a TRUNCATE ... CASCADE of members
or providers would take the log with it. A statement trigger refuses it, whoever asks.

The table's owner can still switch triggers off; only running the hub as a role that does not
own the table takes that away (the README says so). What the triggers cannot prevent,
``auditChain`` detects.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION audit_events_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only: TRUNCATE refused'
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""
    )
    op.execute(
        """
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_truncate()
"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
    op.execute("DROP FUNCTION audit_events_refuse_truncate()")
