"""Customer reminders: customers with their contacts, reminders with due dates and rules; staff areas.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("area", sa.String(100), nullable=True))
    op.create_table(
        "customers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("area", sa.String(100), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.UniqueConstraint("org_id", "external_id", name="uq_customers_external"),
    )
    op.create_table(
        "customer_reminders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_due", sa.Date(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("recurrence", sa.JSON(), nullable=True),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("send_on", sa.Date(), nullable=True),
        sa.Column("last_sent_due", sa.Date(), nullable=True),
        sa.Column("last_unreached", sa.JSON(), nullable=True),
        sa.UniqueConstraint("org_id", "external_id", name="uq_customer_reminders_external"),
    )
    op.create_index("ix_customer_reminders_send_on", "customer_reminders", ["send_on"])


def downgrade() -> None:
    op.drop_index("ix_customer_reminders_send_on", table_name="customer_reminders")
    op.drop_table("customer_reminders")
    op.drop_table("customers")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("area")
