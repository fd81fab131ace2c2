"""Telling the people of a task sent down the tree: who answers for each of its
teams (the routing decision, written on the team's row) and one outbox message
per person told.

A task of up to :data:`labels.TELL_INLINE_TEAMS` teams (a township) is told in
its dispatch's transaction. A larger one (a county, a district: ten thousand
to a hundred thousand teams) is committed with its teams and counts first —
progress counts every household at once — and told by the worker, woken by the
commit, ``TELL_BATCH_TEAMS`` teams at a time in tree order, each batch its own
transaction (:func:`tell_batches`): the first leads' messages are in the outbox
a moment after the dispatch while the rest is routed.

A team is told once: its row carries the decision (``reason`` is never empty
once told) written in the same transaction as its messages, so a worker stopped
between batches takes up at the first team not told, and the task's
``told_at``, set when none is left, is the durable job (the worker's tick finds
a task not told again). Functions flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
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
# Rows are looked up this many ids at a time (bound parameters per statement).
_IDS_PER_QUERY = 2000

Team = tuple[int, int, int]  # the task_teams row id, the team's unit id, its households


def untold(session: Session, task_id: int, g: nx.DiGraph) -> list[Team]:
    """The task's teams not told yet, in tree order (a grid's teams, a village's grids
    side by side: a person answering for several is told of them in one message, unless
    a batch ends among them)."""
    pos = routing.flat_tree(g)["pos"]
    rows = (
        session.connection()
        .execute(
            select(_tt.c.id, _tt.c.team_id, _tt.c.households).where(
                _tt.c.task_id == task_id, _tt.c.reason == ""
            )
        )
        .all()
    )
    return sorted((tuple(r) for r in rows), key=lambda r: (pos.get(r[1], -1), r[0]))


def tell_teams(
    session: Session,
    task: Task,
    teams: list[Team],
    g: nx.DiGraph,
    *,
    now: datetime | None = None,
    part: int | None = None,
) -> int:
    """Route ``teams`` (rows of ``task`` not told yet), write each decision on its row and
    queue one message per person told; how many messages were queued. ``part`` (the
    batch's first row id) tells the messages of one batch from another's: a person
    whose teams two batches share gets one message for each."""
    per_team = {team_id: households for _id, team_id, households in teams}
    decisions = routing.route(g, per_team)
    for team_id in per_team.keys() - decisions.keys():  # gone from the tree since
        decisions[team_id] = routing.Decision(team_id, "", None, "", None)
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
            for d in (decisions[team_id],)
        ]
        if rows:
            session.connection().execute(_SET_DECISION, rows)
        told = messages.dispatch_messages(task, decisions, per_team, g)
        if part is not None:
            for m in told:
                m["event_key"] = f"{m['event_key']}:{part}"
        return notify.enqueue_many(session, told, now=now)


def tell(
    session: Session, task: Task, *, g: nx.DiGraph | None = None, now: datetime | None = None
) -> int:
    """Tell every team of the task not told yet, in this transaction (a township's
    dispatch); how many messages were queued (0 if it was told already)."""
    if task.told_at is not None:
        return 0
    g = g if g is not None else get_graph(session)
    teams = untold(session, task.id, g)
    queued = tell_teams(session, task, teams, g, now=now) if teams else 0
    task.told_at = now or utcnow()
    session.flush()
    return queued


def tell_later(session: Session) -> None:
    """Leave a committed task to the worker's :func:`tell_batches` (woken after commit)."""
    notify.mark_pending(session)


def tell_batches(
    session: Session, *, now: datetime | None = None, batch: int | None = None
) -> Iterator[int]:
    """Tell every task not told yet (drafts are told when sent), oldest first, ``batch``
    teams at a time (default ``TELL_BATCH_TEAMS``): yields the messages each batch
    queued, for the caller to commit before the next. Each batch holds its task's row
    (PostgreSQL: a task another worker is telling at that moment is left to it) and
    tells only the teams still not told, so two workers, or one started again after a
    crash, never tell a team twice."""
    batch = batch or int(current_app.config["TELL_BATCH_TEAMS"])
    # A hint: each batch below holds its task and checks again.
    ids = list(session.scalars(select(Task.id).where(Task.told_at.is_(None), live())))
    for task_id in sorted(ids):
        g = get_graph(session)
        teams = untold(session, task_id, g)
        whole = len(teams) <= batch and session.get(Task, task_id).teams_total == len(teams)
        for start in range(0, max(len(teams), 1), batch):
            task = _hold(session, task_id)
            if task is None:  # told, or being told by another worker
                session.rollback()
                break
            chunk = _still_untold(session, teams[start : start + batch])
            queued = 0
            if chunk:
                part = None if whole else chunk[0][0]
                queued = tell_teams(session, task, chunk, g, now=now, part=part)
            if start + batch >= len(teams) and not _any_untold(session, task_id):
                task.told_at = now or utcnow()
            session.flush()
            yield queued


def tell_pending(session: Session, *, now: datetime | None = None) -> int:
    """Tell every task not told yet in this transaction (tests, the CLI); how many
    tasks were told."""
    before = set(session.scalars(select(Task.id).where(Task.told_at.is_(None), live())))
    for _queued in tell_batches(session, now=now):
        pass
    return len(before) - len(
        set(session.scalars(select(Task.id).where(Task.told_at.is_(None), live())))
    )


def _hold(session: Session, task_id: int) -> Task | None:
    """The task, locked for this batch, if it is still to be told and no other worker
    holds it (PostgreSQL; SQLite's writers take turns anyway)."""
    found = session.scalar(
        select(Task.id)
        .where(Task.id == task_id, Task.told_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    return session.get(Task, found) if found is not None else None


def _still_untold(session: Session, teams: list[Team]) -> list[Team]:
    """``teams`` less those told since they were listed (by another worker)."""
    left: set[int] = set()
    for i in range(0, len(teams), _IDS_PER_QUERY):
        ids = [t[0] for t in teams[i : i + _IDS_PER_QUERY]]
        left.update(session.scalars(select(_tt.c.id).where(_tt.c.id.in_(ids), _tt.c.reason == "")))
    return [t for t in teams if t[0] in left]


def _any_untold(session: Session, task_id: int) -> bool:
    return session.scalar(
        select(select(_tt.c.id).where(_tt.c.task_id == task_id, _tt.c.reason == "").exists())
    )
