"""Event notifications: templates per event type, and the events host systems report.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notification_templates",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("staff_recipients", sa.JSON(), nullable=False),
        sa.Column("contact_roles", sa.JSON(), nullable=False),
        sa.UniqueConstraint("org_id", "external_id", name="uq_notification_templates_external"),
    )
    op.create_index("ix_notification_templates_type", "notification_templates", ["org_id", "event_type"])
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("unreached", sa.JSON(), nullable=True),
        sa.UniqueConstraint("org_id", "external_id", name="uq_events_external"),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_index("ix_notification_templates_type", table_name="notification_templates")
    op.drop_table("notification_templates")
