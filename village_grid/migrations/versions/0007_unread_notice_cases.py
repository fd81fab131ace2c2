"""Escalations about a team as well as a household: a notice its lead had not read

Every case now names the team it is about (``team_id``, filled from the
assignment for the cases there are); a case about a household keeps its
assignment and household, a case about a team (a notice unread at the
deadline) has its task team instead, and exactly one of the two.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_team_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_task_team_id_task_teams"),
            "task_teams",
            ["task_team_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_team_id_units"), "units", ["team_id"], ["id"]
        )
    # Every case so far is about a household: its team is its assignment's.
    op.execute(
        "UPDATE escalations SET team_id = "
        "(SELECT assignments.team_id FROM assignments WHERE assignments.id = escalations.assignment_id)"
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.alter_column("team_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("assignment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("household_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint(
            "uq_escalations_task_team_reason_level", ["task_team_id", "reason", "level"]
        )
        batch_op.create_check_constraint(
            "subject", "(assignment_id IS NULL) <> (task_team_id IS NULL)"
        )
        batch_op.create_index(batch_op.f("ix_escalations_team_id"), ["team_id"], unique=False)


def downgrade():
    # Cases about a team have no household to go back to.
    op.execute("DELETE FROM escalations WHERE assignment_id IS NULL")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_team_id"))
        batch_op.drop_constraint(batch_op.f("ck_escalations_subject"), type_="check")
        batch_op.drop_constraint("uq_escalations_task_team_reason_level", type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_escalations_team_id_units"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_escalations_task_team_id_task_teams"), type_="foreignkey"
        )
        batch_op.drop_column("team_id")
        batch_op.drop_column("task_team_id")
        batch_op.alter_column("household_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("assignment_id", existing_type=sa.Integer(), nullable=False)
