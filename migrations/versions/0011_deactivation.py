"""Deactivation: staff, care recipients and customers the host no longer has are kept for history, not deleted.

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("staff", "care_recipients", "customers")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deactivated_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deactivated_at")
