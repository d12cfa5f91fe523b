"""Outages: a message's validity (per organisation), when its first try started, and channel state.

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organisations", sa.Column("message_validity", sa.Integer(), nullable=True))
    op.add_column("outbox", sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("down_since", sa.DateTime(), nullable=True),
        sa.Column("probe_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("channel_state")
    op.drop_column("outbox", "expires_at")
    op.drop_column("organisations", "message_validity")
