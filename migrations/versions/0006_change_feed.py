"""An exact change feed for needs: every write stamps the row with its transaction's id.

``needs(orderBy: CHANGED)`` paged by ``updated_at``, a time the hub takes from its own clock
inside the transaction: a change committed after a reader had paged past its time, or stamped
by a process whose clock lags, was never delivered. The feed now pages by ``change_xid``, the
id of the transaction that last wrote the row, and only as far as every transaction below the
page's end has finished (see ``hub.domain.needs``).

Existing rows hold 0: below every real transaction id, so a reader starting afresh gets them
first, and no change made after this migration can sort before them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_XACT_ID = "(pg_current_xact_id())::text::bigint"

# Every update, whichever statement makes it (the hub's ORM, its bulk updates, a console):
# the feed cannot rely on each code path remembering to set the column.
STAMP_TRIGGER = (
    f"""
CREATE FUNCTION needs_stamp_change_xid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.change_xid := {CURRENT_XACT_ID};
  RETURN NEW;
END
$$
""",
    """
CREATE TRIGGER needs_stamp_change_xid BEFORE UPDATE ON needs
  FOR EACH ROW EXECUTE FUNCTION needs_stamp_change_xid()
""",
)


def upgrade() -> None:
    # A constant default fills the existing rows without rewriting the table; the volatile
    # default set afterwards applies to new rows only.
    op.add_column(
        "needs",
        sa.Column("change_xid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.alter_column("needs", "change_xid", server_default=sa.text(CURRENT_XACT_ID))
    for statement in STAMP_TRIGGER:
        op.execute(statement)
    op.create_index(op.f("ix_needs_change_xid_id"), "needs", ["change_xid", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_needs_change_xid_id"), table_name="needs")
    op.execute("DROP TRIGGER needs_stamp_change_xid ON needs")
    op.execute("DROP FUNCTION needs_stamp_change_xid()")
    op.drop_column("needs", "change_xid")
