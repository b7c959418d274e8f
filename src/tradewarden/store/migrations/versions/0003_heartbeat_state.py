"""Heartbeat state: the last ping of each push monitor.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewarden.store._models as models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeat_state",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("last_ping_at", models.UtcDateTime(), nullable=True),
        sa.Column("last_start_at", models.UtcDateTime(), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_duration_s", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("pings_total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeat_state")),
    )


def downgrade() -> None:
    op.drop_table("heartbeat_state")
