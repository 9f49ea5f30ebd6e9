"""Checkpoints of the change feed: a moment of the clock and the transaction ids after it.

``needs(orderBy: CHANGED, filter: {changedSince})`` turned its time into a lower bound on
``change_xid`` with ``min(change_xid)`` over every need changed since then: one pass over the
window, 260 ms when it holds 900,000 needs. Each hub process now records, every
HUB_CHANGE_CHECKPOINT_INTERVAL_SECONDS, the time and the oldest transaction id still running;
the first page looks up the latest checkpoint at or before its time instead (see
``hub.domain.change_checkpoints``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_checkpoints",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("at", name=op.f("pk_change_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("change_checkpoints")
