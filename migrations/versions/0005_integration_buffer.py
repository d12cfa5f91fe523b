"""Integration buffer: visits at customers, customers' decisions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("decision_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("decision_to", sa.Date(), nullable=True))
    op.create_table(
        "visits",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("staff_id", BigId, sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("buffer_state", sa.String(16), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("org_id", "external_id", name="uq_visits_external"),
    )
    op.create_index("ix_visits_buffer", "visits", ["org_id", "buffer_state", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_visits_buffer", table_name="visits")
    op.drop_table("visits")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("decision_to")
        batch.drop_column("decision_from")
