"""A customer reminder whose text cannot be rendered is marked failed, with why, until it is changed.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_reminders") as batch:
        batch.add_column(sa.Column("failed_reason", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_reminders") as batch:
        batch.drop_column("failed_reason")
