"""Task teams count their households' statuses and say whether every household
has its assignment row (frozen); existing tasks have every row, so their teams
are frozen and their counts are taken from the rows. Tasks say when their people
were told (existing ones: when they were sent)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

STATUSES = ("pending", "safe", "needs_help", "not_home", "unreachable")


def upgrade():
    # Plain ALTER TABLEs, no batch copy: on SQLite a copy drops the old table, and its
    # ON DELETE CASCADE children (escalations, assignments) would go with it.
    for status in STATUSES:
        op.add_column(
            "task_teams", sa.Column(status, sa.Integer(), nullable=False, server_default="0")
        )
    op.add_column(
        "task_teams", sa.Column("frozen", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    for status in STATUSES:
        op.execute(
            f"UPDATE task_teams SET {status} = (SELECT count(*) FROM assignments a"
            " WHERE a.task_id = task_teams.task_id AND a.team_id = task_teams.team_id"
            f" AND a.status = '{status}')"
        )
    op.execute(sa.text("UPDATE task_teams SET frozen = :yes").bindparams(yes=True))
    op.add_column("tasks", sa.Column("told_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE tasks SET told_at = created_at")


def downgrade():
    op.drop_column("tasks", "told_at")
    op.drop_column("task_teams", "frozen")
    for status in reversed(STATUSES):
        op.drop_column("task_teams", status)
