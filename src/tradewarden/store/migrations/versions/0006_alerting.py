"""Alerting: alerts, silences and aggregation groups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewarden.store._models as models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("starts_at", models.UtcDateTime(), nullable=False),
        sa.Column("ends_at", models.UtcDateTime(), nullable=True),
        sa.Column("generator_url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_ends_at", "alerts", ["ends_at"])
    op.create_table(
        "silences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", models.UtcDateTime(), nullable=False),
        sa.Column("ends_at", models.UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("updated_at", models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])
    op.create_table(
        "alert_groups",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("route_id", sa.String(length=200), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("notified", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("next_flush_at", models.UtcDateTime(), nullable=True),
        sa.Column("last_flush_at", models.UtcDateTime(), nullable=True),
        sa.Column("created_at", models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_alert_groups")),
    )
    op.create_index("ix_alert_groups_next_flush_at", "alert_groups", ["next_flush_at"])


def downgrade() -> None:
    op.drop_table("alert_groups")
    op.drop_table("silences")
    op.drop_table("alerts")
