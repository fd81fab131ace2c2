"""Telling the people of a task sent down the tree: who answers for each of its
teams (the routing decision, written on the team's row) and one outbox message
per person told.

A task of up to :data:`labels.TELL_INLINE_TEAMS` teams (a township) is told in
its dispatch's transaction. A larger one (a county, a district: ten thousand
to a hundred thousand teams) is committed with its teams and counts first —
progress counts every household at once — and told by the worker, woken by the
commit, a few seconds later: the task row's ``told_at`` is the durable job, so
a crash in between loses nothing (the worker's tick finds it again). Functions
flush and never commit.
"""

from __future__ import annotations

from datetime import datetime

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from village_grid.models import Task, TaskTeam
from village_grid.models.base import utcnow
from village_grid.notify import service as notify
from village_grid.tasks import messages, routing
from village_grid.tasks.graph import get_graph
from village_grid.tasks.queries import live

_tt = TaskTeam.__table__
_SET_DECISION = (
    update(_tt)
    .where(_tt.c.id == bindparam("b_id"))
    .values(
        assignee_id=bindparam("b_assignee_id"),
        assignee_role=bindparam("b_assignee_role"),
        reason=bindparam("b_reason"),
    )
)


def tell(
    session: Session, task: Task, *, g: nx.DiGraph | None = None, now: datetime | None = None
) -> int:
    """Route the task's teams, write each decision on its team's row and queue one
    message per person told; how many messages were queued (0 if it was told
    already)."""
    if task.told_at is not None:
        return 0
    g = g if g is not None else get_graph(session)
    teams = (
        session.connection()
        .execute(select(_tt.c.id, _tt.c.team_id, _tt.c.households).where(_tt.c.task_id == task.id))
        .all()
    )
    per_team = {team_id: households for _id, team_id, households in teams}
    decisions = routing.route(g, per_team)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        tr = messages.translator()
        rows = [
            {
                "b_id": row_id,
                "b_assignee_id": d.assignee.id if d.assignee else None,
                "b_assignee_role": d.role,
                "b_reason": routing.describe(d, tr)[:300],
            }
            for row_id, team_id, _n in teams
            if (d := decisions.get(team_id)) is not None
        ]
        if rows:
            session.connection().execute(_SET_DECISION, rows)
        queued = notify.enqueue_many(
            session, messages.dispatch_messages(task, decisions, per_team, g), now=now
        )
    task.told_at = now or utcnow()
    session.flush()
    return queued


def tell_later(session: Session) -> None:
    """Leave a committed task to the worker's :func:`tell_pending` (woken after commit)."""
    notify.mark_pending(session)


def tell_pending(session: Session, *, now: datetime | None = None) -> int:
    """Tell every task not told yet (drafts are told when sent), oldest first (PostgreSQL: tasks another worker is
    telling are skipped); how many tasks were told."""
    ids = list(
        session.scalars(
            select(Task.id)
            .where(Task.told_at.is_(None), live())
            .order_by(Task.id)
            .with_for_update(skip_locked=True)
        )
    )
    for task_id in ids:
        tell(session, session.get(Task, task_id), now=now)
    return len(ids)
