"""The worker: outbox messages claimed by one worker at a time, and its ticks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_by", sa.String(length=64), server_default="", nullable=False)
        )
    op.create_table(
        "worker_ticks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_ticks")),
    )


def downgrade():
    op.drop_table("worker_ticks")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("claimed_until")
