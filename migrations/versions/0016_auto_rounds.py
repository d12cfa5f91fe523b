"""Automatic rounds (an organisation's slots, each claimed once) and escalation (once per month per assistant).

Revision ID: 0016
Revises: 0008
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("organisations", sa.Column("auto_rounds", sa.JSON(), nullable=True))
    op.add_column("organisations", sa.Column("escalate_after", sa.Integer(), nullable=True))
    op.create_index("ix_history_org_month", "reminder_history", ["org_id", "month", "staff_id"])
    op.create_table(
        "auto_round_slots",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slot_at", sa.DateTime(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("round_id", BigId, sa.ForeignKey("reminder_rounds.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("org_id", "slot_at", name="uq_auto_round_slots"),
    )
    op.create_table(
        "escalations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("staff_id", BigId, sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("org_id", "staff_id", "month", name="uq_escalations"),
    )


def downgrade() -> None:
    op.drop_table("escalations")
    op.drop_table("auto_round_slots")
    op.drop_index("ix_history_org_month", table_name="reminder_history")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("escalate_after")
        batch.drop_column("auto_rounds")
