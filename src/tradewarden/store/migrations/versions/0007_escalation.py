"""Escalations (stored deadlines) and on-call overrides.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewarden.store._models as models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("policy_name", sa.String(length=100), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("due_at", models.UtcDateTime(), nullable=True),
        sa.Column("notified", sa.JSON(), nullable=False),
        sa.Column("opened_at", models.UtcDateTime(), nullable=False),
        sa.Column("updated_at", models.UtcDateTime(), nullable=False),
        sa.Column("last_fired_at", models.UtcDateTime(), nullable=True),
        sa.Column("acknowledged_at", models.UtcDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("ack_reason", sa.Text(), nullable=True),
        sa.Column("resolved_at", models.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("key", name=op.f("uq_escalations_key")),
    )
    op.create_index("ix_escalations_status_due_at", "escalations", ["status", "due_at"])
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("layer", sa.String(length=100), nullable=True),
        sa.Column("replaces", sa.String(length=100), nullable=False),
        sa.Column("replacement", sa.String(length=100), nullable=False),
        sa.Column("starts_at", models.UtcDateTime(), nullable=False),
        sa.Column("ends_at", models.UtcDateTime(), nullable=False),
        sa.Column("created_at", models.UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_overrides")),
    )
    op.create_index(
        "ix_oncall_overrides_schedule_ends_at", "oncall_overrides", ["schedule", "ends_at"]
    )


def downgrade() -> None:
    op.drop_table("oncall_overrides")
    op.drop_table("escalations")
