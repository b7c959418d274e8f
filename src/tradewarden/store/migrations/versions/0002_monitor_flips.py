"""Monitor flips: every state change of a monitor.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewarden.store._models as models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_flips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor", sa.String(length=100), nullable=False),
        sa.Column("old_state", sa.String(length=16), nullable=False),
        sa.Column("new_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_flips")),
    )
    op.create_index("ix_monitor_flips_monitor_id", "monitor_flips", ["monitor", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_monitor_flips_monitor_id", table_name="monitor_flips")
    op.drop_table("monitor_flips")
