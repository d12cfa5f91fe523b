"""Telegram: outbox payload (buttons, edits) and processed_at for stored updates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("processed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        batch.drop_column("processed_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("payload")
