"""Outbox: a priority, so a call for help is not sent after a county's dispatch notices

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default="2", nullable=False)
        )
        batch_op.drop_index("ix_outbox_status_next")
        batch_op.create_index(
            "ix_outbox_status_priority_next",
            ["status", "priority", "next_attempt_at"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_priority_next")
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)
        batch_op.drop_column("priority")
