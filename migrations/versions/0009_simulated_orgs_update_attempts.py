"""Simulated organisations (the simulator acts only for them) and tries per stored Telegram update.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing organisations are real ones unless `paminn demo-data` marks them again.
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("simulated", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        batch.drop_column("attempts")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("simulated")
