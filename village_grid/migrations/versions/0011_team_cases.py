"""Households not reached by a deadline are one case per team; a phone's operation ids
are unique per sender

Open cases about single households not reached by the deadline become one case per
team and level (the household rows are kept, resolved with a note saying where they
went). ``status_events.client_op_id`` is unique per sender (``actor_id``) instead of
across everyone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The default language's words, as a case's notes are written.
MERGED = "已并入小队的案件"
OPEN = "('open', 'acknowledged')"


def upgrade():
    op.execute(
        "INSERT INTO escalations (task_id, assignment_id, household_id, task_team_id, team_id,"
        " reason, level, unit_id, assignee_id, status, opened_at, next_escalation_at,"
        " acknowledged_at, acknowledged_by_id, resolution_note)"
        " SELECT e.task_id, NULL, NULL, tt.id, e.team_id, 'overdue', e.level, MIN(e.unit_id),"
        " MIN(e.assignee_id), MAX(e.status), MIN(e.opened_at), MAX(e.next_escalation_at),"
        " MIN(e.acknowledged_at), MIN(e.acknowledged_by_id), ''"
        " FROM escalations e JOIN task_teams tt ON tt.task_id = e.task_id AND tt.team_id = e.team_id"
        f" WHERE e.reason = 'overdue' AND e.assignment_id IS NOT NULL AND e.status IN {OPEN}"
        " AND NOT EXISTS (SELECT 1 FROM escalations x WHERE x.task_team_id = tt.id"
        " AND x.reason = 'overdue' AND x.level = e.level)"
        " GROUP BY e.task_id, tt.id, e.team_id, e.level"
    )
    op.execute(
        sa.text(
            "UPDATE escalations SET status = 'resolved', resolved_at = CURRENT_TIMESTAMP,"
            " next_escalation_at = NULL, resolution_note = :note"
            f" WHERE reason = 'overdue' AND assignment_id IS NOT NULL AND status IN {OPEN}"
        ).bindparams(note=MERGED)
    )
    # status_events has no children: a batch copy on SQLite loses nothing.
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_status_events_client_op_id", type_="unique")
        batch_op.create_unique_constraint("uq_status_events_actor_op", ["actor_id", "client_op_id"])


def downgrade():
    # Operation ids two people happened to share cannot be unique across everyone again:
    # the later ones are cleared first (their events stay).
    op.execute(
        "UPDATE status_events SET client_op_id = NULL WHERE client_op_id IS NOT NULL"
        " AND id > (SELECT MIN(s.id) FROM status_events s WHERE s.client_op_id = status_events.client_op_id)"
    )
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_status_events_actor_op", type_="unique")
        batch_op.create_unique_constraint("uq_status_events_client_op_id", ["client_op_id"])
    op.execute(
        sa.text(
            "UPDATE escalations SET status = 'open', resolved_at = NULL, resolution_note = ''"
            " WHERE reason = 'overdue' AND assignment_id IS NOT NULL AND resolution_note = :note"
        ).bindparams(note=MERGED)
    )
    # The team cases stay (the older schema holds them), ended: their households' cases
    # are open again.
    op.execute(
        sa.text(
            "UPDATE escalations SET status = 'resolved', resolved_at = CURRENT_TIMESTAMP,"
            " next_escalation_at = NULL, resolution_note = :note"
            f" WHERE reason = 'overdue' AND task_team_id IS NOT NULL AND status IN {OPEN}"
        ).bindparams(note=MERGED)
    )
