"""Team leads who have gone silent on a sweep: flagged on the progress page and to
their grid member.

A sweep reaches each team through one person (``task_teams.assignee_id``). When that
person is the team's lead, the team still has households to confirm, and the lead's
phone has shown no sign of life (``tasks/signs.py``: the page opened, a tap, a sync)
for the sweep's *silent time* since the dispatch or since its last sign, the lead is
*silent*. The silent time is ``LEAD_SILENT_MINUTES`` or half the time to the
deadline, whichever is sooner (a one-hour sweep flags a lead after 30 minutes): long
enough for a lead to start, soon enough for the grid member to call before the deadline.

A silent lead is listed on the progress page with their phone and their grid
member's (:func:`silent_leads`), and becomes a case about the team (reason
``silent``, ``tasks/cases.py``) at the grid member — the first person on duty above
the team, passing over the lead — "call the lead", which climbs to the village cadre
and on unless someone acknowledges it. It ends ("Heard from the team lead") as soon
as the lead's phone shows life (``signs.record_signs``), when the team has nobody left
to confirm (``statuses.record_status``), or with the sweep. Functions flush and never
commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.database import chunks
from village_grid.models import Escalation, FieldSign, Task, TaskTeam, Unit, User
from village_grid.tasks import cases, labels, routing
from village_grid.tasks.graph import get_graph
from village_grid.tasks.queries import live

REASON = "silent"


def silent_after(task: Task) -> timedelta | None:
    """How long without a sign of life makes the lead of a team of ``task`` silent:
    ``LEAD_SILENT_MINUTES``, or half the time from dispatch to deadline if that is
    sooner. None: not watched (another kind of task, or ``LEAD_SILENT_MINUTES`` 0)."""
    minutes = int(current_app.config["LEAD_SILENT_MINUTES"])
    if minutes <= 0 or task.kind not in labels.SILENT_TASK_KINDS:
        return None
    after = timedelta(minutes=minutes)
    if task.deadline is not None and task.deadline > task.created_at:
        after = min(after, (task.deadline - task.created_at) / 2)
    return after


def _silent_rows(session: Session, cutoffs: dict[int, datetime], paths=None, limit=None) -> list:
    """(task team, task, team, lead, pending, last sign, its kind, dispatched) for every
    team of these tasks told through its lead, with households pending, and no sign of
    life from the lead since its task's cutoff (nor a dispatch after it)."""
    rows = []
    for task_id, cutoff in cutoffs.items():
        q = (
            select(
                TaskTeam.id,
                TaskTeam.task_id,
                TaskTeam.team_id,
                TaskTeam.assignee_id,
                TaskTeam.pending,
                FieldSign.last_at,
                FieldSign.last_kind,
                Task.created_at,
            )
            .join(Task, Task.id == TaskTeam.task_id)
            .join(Unit, Unit.id == TaskTeam.team_id)
            .outerjoin(
                FieldSign,
                and_(
                    FieldSign.task_id == TaskTeam.task_id,
                    FieldSign.user_id == TaskTeam.assignee_id,
                ),
            )
            .where(
                TaskTeam.task_id == task_id,
                TaskTeam.pending > 0,
                TaskTeam.assignee_role == "team_lead",
                TaskTeam.assignee_id.is_not(None),
                Task.created_at <= cutoff,
                or_(FieldSign.last_at.is_(None), FieldSign.last_at <= cutoff),
                scope.paths_clause(paths, Unit.path),
            )
            .order_by(Unit.sort_path)
        )
        if limit is not None:
            q = q.limit(limit)
        rows += session.execute(q).all()
    return rows


def silent_leads(
    session: Session,
    task: Task,
    *,
    actor: User | None = None,
    now: datetime,
    unit_path: str | None = None,
) -> list[dict]:
    """The silent leads of ``task`` in ``actor``'s scope (and under the unit at
    ``unit_path`` when given), in tree order: each with the
    team (and its grid), the lead and the grid member to call (name, phone), the
    households still to confirm, the last sign of life (None: never), minutes of
    silence, and whom a case about it has reached (``case``: None if none is open)."""
    after = silent_after(task)
    if after is None or task.closed_at is not None or task.created_at > now - after:
        return []
    paths = None if actor is None else scope.scope_paths(actor, "view")
    if unit_path is not None:
        paths = scope.narrow(paths, unit_path)
    g = get_graph(session)
    rows = _silent_rows(session, {task.id: now - after}, paths, limit=labels.SILENT_LISTED)
    open_cases = _open_cases_of(session, task.id)
    holders = cases.names(session, {holder for _level, holder in open_cases.values()})
    out = []
    for task_team_id, _task_id, team_id, lead_id, pending, last_at, last_kind, sent in rows:
        lead = routing.person_on_duty(g, team_id, lead_id)
        if lead is None:
            continue
        node = g.nodes[team_id]
        grid = g.nodes[node["parent"]] if node["parent"] in g else None
        above = cases.holder(g, team_id, 1, besides=lead_id)
        level, holder = open_cases.get(task_team_id, (0, None))
        since = last_at or sent
        out.append(
            {
                "task_team_id": task_team_id,
                "team_id": team_id,
                "team_name": node["name"],
                "grid_name": grid["name"] if grid is not None else "",
                "lead": {"id": lead.id, "name": lead.name, "phone": lead.phone},
                "above": {
                    "name": above.person.name if above else "",
                    "phone": above.person.phone if above else "",
                    "role": above.role if above else "",
                },
                "pending": pending,
                "last_seen_at": last_at,
                "last_kind": last_kind or "",
                "silent_minutes": int((now - since).total_seconds() // 60),
                "case": (
                    {
                        "level": level,
                        "holder": holders[holder].display_name if holder in holders else "",
                    }
                    if level
                    else None
                ),
            }
        )
    # Tree order (grid 2 before grid 10): paths compare as text, ids as numbers.
    pos = routing.flat_tree(g)["pos"]
    return sorted(out, key=lambda r: pos.get(r["team_id"], len(pos)))


def _open_cases_of(session: Session, task_id: int) -> dict[int, tuple[int, int | None]]:
    """Per task team of the task: the highest level an open silent case reached, and
    who holds it there."""
    rows = session.execute(
        select(Escalation.task_team_id, Escalation.level, Escalation.assignee_id)
        .where(
            Escalation.task_id == task_id,
            Escalation.reason == REASON,
            Escalation.status.in_(labels.OPEN_CASE_STATES),
        )
        .order_by(Escalation.level)
    ).all()
    return {tt: (level, holder) for tt, level, holder in rows}


def open_cases(session: Session, g: nx.DiGraph, now: datetime, wait: timedelta) -> list[int]:
    """Level 1 (the grid member) for every lead silent on an open sweep, once per lead
    and sweep (the unique task team, reason and level)."""
    cutoffs = {}
    for task in session.scalars(
        select(Task).where(
            Task.kind.in_(labels.SILENT_TASK_KINDS),
            Task.closed_at.is_(None),
            live(),
        )
    ):
        after = silent_after(task)
        if after is not None and task.created_at <= now - after:
            cutoffs[task.id] = now - after
    if not cutoffs:
        return []
    had = set(
        session.scalars(
            select(Escalation.task_team_id).where(
                Escalation.task_id.in_(list(cutoffs)), Escalation.reason == REASON
            )
        )
    )
    rows = []
    for task_team_id, task_id, team_id, lead_id, *_rest in _silent_rows(session, cutoffs):
        if task_team_id in had or routing.person_on_duty(g, team_id, lead_id) is None:
            continue
        subject = cases.Subject(task_id, team_id, task_team_id=task_team_id, about_id=lead_id)
        rows += cases.first_levels(g, REASON, subject, now=now, since=now, wait=wait)
    return cases.open_rows(session, rows)


def settle(session: Session, now: datetime) -> int:
    """The checks' safety net for what ends a silent case at once elsewhere: a sign of
    life that raced the case opening ("Heard from the team lead"), a team with nobody
    left to confirm ("Every household is confirmed."). Returns the number ended."""
    found = session.execute(
        select(
            Escalation.task_team_id,
            Escalation.opened_at,
            FieldSign.last_at,
            TaskTeam.pending,
        )
        .join(TaskTeam, TaskTeam.id == Escalation.task_team_id)
        .outerjoin(
            FieldSign,
            and_(FieldSign.task_id == TaskTeam.task_id, FieldSign.user_id == TaskTeam.assignee_id),
        )
        .where(Escalation.reason == REASON, Escalation.status.in_(labels.OPEN_CASE_STATES))
        .order_by(Escalation.task_team_id, Escalation.level)
    ).all()
    opened: dict[int, tuple] = {}
    for tt, opened_at, last_at, pending in found:
        opened.setdefault(tt, (opened_at, last_at, pending))
    heard = [tt for tt, (at, last_at, _p) in opened.items() if last_at is not None and last_at > at]
    confirmed = [tt for tt, (_at, _l, pending) in opened.items() if tt not in heard and not pending]
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        notes = ((heard, str(labels.HEARD_NOTE)), (confirmed, str(labels.CONFIRMED_NOTE)))
    ended = 0
    for tts, note in notes:
        for chunk in chunks(tts):
            ended += cases.resolve(
                session, None, cases.team_cases_of(chunk, (REASON,)), note=note, now=now
            )
    return ended
