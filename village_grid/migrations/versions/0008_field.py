"""The team lead in the field: signs of life per person and task

``field_signs`` keeps, per person and task, when their phone first and last
showed life on it (opened the "my team" page, sent a tap, synced its queue) and
when it last synced: the progress page lists the leads who went silent, and the
deadline checks escalate them to their grid member (``field/silent.py``). Silent
cases themselves are rows of ``escalations`` (reason ``silent``, about a task team),
which needs no change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "field_signs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("last_kind", sa.String(length=10), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=False), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_field_signs_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_field_signs_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_signs")),
        sa.UniqueConstraint("task_id", "user_id", name="uq_field_signs_task_user"),
    )
    with op.batch_alter_table("field_signs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_signs_task_id"), ["task_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_field_signs_user_id"), ["user_id"], unique=False)


def downgrade():
    op.execute("DELETE FROM escalations WHERE reason = 'silent'")
    with op.batch_alter_table("field_signs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_signs_user_id"))
        batch_op.drop_index(batch_op.f("ix_field_signs_task_id"))
    op.drop_table("field_signs")
