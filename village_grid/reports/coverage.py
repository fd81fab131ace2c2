"""Coverage in a report, counted by the database: the unit's counts and each child unit's,
coverage over time (the unit's curve and each child's), the time to 50 %, 90 % and 100 %
of the households, and earlier tasks of the same kind beside this one.

The counts are the task's teams' (``task_teams``) within the reader's part of the unit,
as the progress page (``tasks/levels.py``) and the export count them. A household counts
as reached at its assignment's ``updated_at`` once its status is no longer pending — the
rule of the progress page's chart (``tasks/progress.py: coverage_timeline``). Those times
are counted per minute after dispatch by the database (``database.minutes_after``):
a unit's answer is a few hundred rows at any size, and the minutes to each threshold
are exact (whole minutes, rounded up); a curve's point counts what was reached by the
minute before it. Nothing here reads the cached tree graph: a child unit is a subtree
(``auth/scope.py``), so a report of a million households is made in a process of its own
without the graph's memory.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.database import minutes_after
from village_grid.hierarchy.queries import child_units
from village_grid.models import Assignment, Task, TaskTeam, Unit
from village_grid.reports.labels import COMPARED_AT, CURVE_POINTS, EARLIER_LISTED, THRESHOLDS
from village_grid.tasks.labels import PENDING, STATUSES

# (minute after dispatch, households reached in it), earliest first.
Minutes = list[tuple[int, int]]


def _teams(task: Task, paths: list[str] | None):
    """The task's teams (``task_teams``) within ``paths``. Every team of a task lies under
    its target: when that is within ``paths`` no path condition is needed."""
    tt = TaskTeam.__table__
    q = select(tt).where(tt.c.task_id == task.id)
    if paths is not None and not scope.within(task.unit.path, paths):
        q = q.join(Unit, Unit.id == tt.c.team_id).where(scope.paths_clause(paths, Unit.path))
    return q.subquery()


def counts(session: Session, task: Task, paths: list[str] | None) -> dict:
    """The task's counts within ``paths`` (COUNT_KEYS, "covered") and how many of its
    teams lie there."""
    t = _teams(task, paths)
    row = session.execute(
        select(func.count(), *(func.coalesce(func.sum(t.c[s]), 0) for s in STATUSES))
    ).one()
    values = dict(zip(STATUSES, (int(v) for v in row[1:]), strict=True))
    out = {"total": sum(values.values()), **values, "teams": int(row[0])}
    out["covered"] = out["total"] - out["pending"]
    return out


def children(session: Session, task: Task, unit: Unit, paths: list[str] | None) -> list[dict]:
    """The units right under ``unit`` that the task reached within ``paths``, in tree
    order, each with its counts and its own part of ``paths`` (``scope.narrow``)."""
    out = []
    for c in child_units(session, unit):
        part = scope.narrow(paths, c.path)
        if not part:
            continue
        n = counts(session, task, part)
        if n["total"]:
            row = {"id": c.id, "kind": c.kind, "name": c.name, "parent_id": c.parent_id}
            out.append({**row, "depth": c.depth, **n, "paths": part})
    return out


def reached_by_minute(
    session: Session, task: Task, paths: list[str] | None, until: datetime | None = None
) -> Minutes:
    """How many households within ``paths`` were reached in each minute after the task
    was sent (by ``until``), earliest first."""
    minute = minutes_after(session, Assignment.updated_at, task.created_at).label("minute")
    q = select(minute, func.count()).where(
        Assignment.task_id == task.id,
        Assignment.status != PENDING,
        Assignment.updated_at.is_not(None),
    )
    if paths is not None and not scope.within(task.unit.path, paths):
        q = q.join(Unit, Unit.id == Assignment.team_id).where(scope.paths_clause(paths, Unit.path))
    if until is not None:
        q = q.where(Assignment.updated_at <= until)
    rows = session.execute(q.group_by(minute)).all()
    merged: dict[int, int] = {}
    for m, n in rows:  # a time before dispatch (a clock set wrong) is its first minute
        merged[max(0, int(m))] = merged.get(max(0, int(m)), 0) + int(n)
    return sorted(merged.items())


def added(parts: list[Minutes]) -> Minutes:
    """Several units' minutes as one."""
    merged: dict[int, int] = {}
    for part in parts:
        for m, n in part:
            merged[m] = merged.get(m, 0) + n
    return sorted(merged.items())


def minutes_to(minutes: Minutes, total: int, percent: int) -> int | None:
    """Whole minutes (rounded up) after dispatch until ``percent`` of ``total`` were reached."""
    if not total:
        return None
    need, reached = max(1, math.ceil(total * percent / 100)), 0
    for m, n in minutes:
        reached += n
        if reached >= need:
            return m
    return None


def curve(minutes: Minutes, total: int, span: float) -> list[tuple]:
    """(seconds since dispatch, percent reached) at CURVE_POINTS + 1 even steps of ``span``."""
    out, i, reached = [], 0, 0
    for k in range(CURVE_POINTS + 1):
        at = span * k / CURVE_POINTS
        while i < len(minutes) and minutes[i][0] * 60 <= at:
            reached += minutes[i][1]
            i += 1
        out.append((at, 100 * reached / total if total else 0))
    return out


def summary(minutes: Minutes, total: int, span: float) -> dict:
    """One unit's coverage: households, reached, percent, minutes to each threshold, curve."""
    reached = sum(n for _m, n in minutes)
    return {
        "total": total,
        "reached": reached,
        "percent": int(reached * 100 // total) if total else 0,
        "minutes_to": {p: minutes_to(minutes, total, p) for p in THRESHOLDS},
        "curve": curve(minutes, total, span),
    }


def span_of(task: Task, end: datetime) -> float:
    """Seconds the charts cover: from dispatch to the end (or the deadline, if later)."""
    last = max(end, task.deadline) if task.deadline else end
    return max((last - task.created_at).total_seconds(), 60.0)


def coverage(
    session: Session,
    task: Task,
    totals: dict,
    kids: list[dict],
    paths: list[str] | None,
    end: datetime,
) -> dict:
    """The unit's coverage (``totals``: its :func:`counts`) and each child's (``kids``:
    :func:`children`), with the span of the charts and where the deadline falls."""
    span = span_of(task, end)
    per_child = [reached_by_minute(session, task, c["paths"], until=end) for c in kids]
    # Every team under the unit lies under one of its children (a team has none).
    whole = added(per_child) if kids else reached_by_minute(session, task, paths, until=end)
    rows = []
    for c, minutes in zip(kids, per_child, strict=True):
        row = {k: v for k, v in c.items() if k != "paths"}
        rows.append({**row, **summary(minutes, c["total"], span)})
    deadline_at = (task.deadline - task.created_at).total_seconds() if task.deadline else None
    return {
        "unit": summary(whole, totals["total"], span),
        "children": rows,
        "span": span,
        "deadline_at": deadline_at,
    }


def earlier(session: Session, task: Task, unit: Unit, paths: list[str] | None) -> dict:
    """Tasks of the same kind sent earlier to ``unit`` or above it (up to EARLIER_LISTED,
    newest first), each with its minutes to COMPARED_AT % in ``unit``; their median."""
    found = session.scalars(
        select(Task)
        .where(
            Task.kind == task.kind,
            Task.subkind == task.subkind,
            Task.unit_id.in_(unit.ancestor_ids),
            Task.draft.is_(False),
            Task.created_at < task.created_at,
        )
        .order_by(Task.created_at.desc())
        .limit(EARLIER_LISTED)
    ).all()
    rows = []
    for t in found:
        total = counts(session, t, paths)["total"]
        minutes = reached_by_minute(session, t, paths)
        rows.append(
            {
                "id": t.id,
                "title": t.title,
                "created_at": t.created_at,
                "total": total,
                "minutes": minutes_to(minutes, total, COMPARED_AT),
            }
        )
    known = [r["minutes"] for r in rows if r["minutes"] is not None]
    return {"rows": rows, "median": statistics.median(known) if known else None}
