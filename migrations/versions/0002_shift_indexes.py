"""Shift indexes for the month selection: a partial index over unfinished shifts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_shifts_month_cover", table_name="shifts")
    op.drop_index("ix_shifts_staff", table_name="shifts")
    op.create_index("ix_shifts_unfinished", "shifts", ["org_id", "start_at", "staff_id", "care_recipient_id"],
                    sqlite_where=sa.text("reported = 0 OR signed = 0"),
                    postgresql_where=sa.text("reported = false OR signed = false"))
    op.create_index("ix_shifts_staff_start", "shifts", ["staff_id", "start_at", "care_recipient_id"])


def downgrade() -> None:
    op.drop_index("ix_shifts_staff_start", table_name="shifts")
    op.drop_index("ix_shifts_unfinished", table_name="shifts")
    op.create_index("ix_shifts_staff", "shifts", ["staff_id"])
    op.create_index("ix_shifts_month_cover", "shifts",
                    ["org_id", "start_at", "staff_id", "care_recipient_id", "reported", "signed"])
