"""Assignments: the progress roll-up index covers status too

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_task_team")
        batch_op.create_index(
            "ix_assignments_task_team_status", ["task_id", "team_id", "status"], unique=False
        )


def downgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_task_team_status")
        batch_op.create_index("ix_assignments_task_team", ["task_id", "team_id"], unique=False)
