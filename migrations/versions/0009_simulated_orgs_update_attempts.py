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
    # A plain-string default lets SQLite ALTER TABLE ADD COLUMN in place. An expression (sa.false())
    # makes the batch recreate the table, and dropping the old one cascades (foreign_keys=ON) to every
    # organisation's staff, shifts and history.
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("simulated", sa.Boolean(), nullable=False, server_default="0"))
    # An existing demo stays usable in the simulator: only `paminn demo-data` ever marked people simulated,
    # so an organisation whose people all are is the demo. Every other organisation is a real one.
    op.execute(sa.text(
        "UPDATE organisations SET simulated = :yes WHERE EXISTS (SELECT 1 FROM staff WHERE staff.org_id = "
        "organisations.id) AND NOT EXISTS (SELECT 1 FROM staff WHERE staff.org_id = organisations.id "
        "AND staff.simulated = :no)").bindparams(yes=True, no=False))
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        batch.drop_column("attempts")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("simulated")
