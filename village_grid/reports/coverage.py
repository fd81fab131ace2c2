"""Coverage over time in a report: the unit's curve and each child unit's, the time to
50 %, 90 % and 100 % of the households, and earlier tasks of the same kind beside this one.

A household counts as reached at its assignment's ``updated_at`` once its status is no
longer pending — the rule of the progress page's chart (``tasks/progress.py:
coverage_timeline``); the households of a unit are its teams' counts (``task_teams``), as
the progress page and the export count them.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.models import Assignment, Task, TaskTeam, Unit
from village_grid.reports.labels import COMPARED_AT, CURVE_POINTS, EARLIER_LISTED, THRESHOLDS
from village_grid.tasks.labels import PENDING


def team_totals(session: Session, task_id: int, paths: list[str] | None) -> dict[int, int]:
    """Households the task reaches per team within ``paths``."""
    tt = TaskTeam.__table__
    q = (
        select(tt.c.team_id, tt.c.households)
        .join(Unit, Unit.id == tt.c.team_id)
        .where(tt.c.task_id == task_id, scope.paths_clause(paths, Unit.path))
    )
    return dict(session.connection().execute(q).all())


def reached_times(
    session: Session, task_id: int, paths: list[str] | None, until: datetime | None = None
) -> list[tuple[int, datetime]]:
    """(team, when) of every household reached within ``paths``, earliest first."""
    q = (
        select(Assignment.team_id, Assignment.updated_at)
        .join(Unit, Unit.id == Assignment.team_id)
        .where(
            Assignment.task_id == task_id,
            Assignment.status != PENDING,
            Assignment.updated_at.is_not(None),
            scope.paths_clause(paths, Unit.path),
        )
    )
    if until is not None:
        q = q.where(Assignment.updated_at <= until)
    return sorted(session.connection().execute(q).all(), key=lambda r: r[1])


def minutes_to(times: list[datetime], total: int, percent: int, start: datetime) -> int | None:
    """Whole minutes (rounded up) from ``start`` until ``percent`` of ``total`` were reached."""
    if not total:
        return None
    need = max(1, math.ceil(total * percent / 100))
    if len(times) < need:
        return None
    return max(0, math.ceil((times[need - 1] - start).total_seconds() / 60))


def curve(times: list[datetime], total: int, start: datetime, span: float) -> list[tuple]:
    """(seconds since dispatch, percent reached) at CURVE_POINTS + 1 even steps of ``span``."""
    out, i = [], 0
    for k in range(CURVE_POINTS + 1):
        at = start + timedelta(seconds=span * k / CURVE_POINTS)
        while i < len(times) and times[i] <= at:
            i += 1
        out.append((span * k / CURVE_POINTS, 100 * i / total if total else 0))
    return out


def summary(times: list[datetime], total: int, task: Task, span: float) -> dict:
    """One unit's coverage: households, reached, percent, minutes to each threshold, curve."""
    reached = len(times)
    return {
        "total": total,
        "reached": reached,
        "percent": int(reached * 100 // total) if total else 0,
        "minutes_to": {p: minutes_to(times, total, p, task.created_at) for p in THRESHOLDS},
        "curve": curve(times, total, task.created_at, span),
    }


def span_of(task: Task, end: datetime) -> float:
    """Seconds the charts cover: from dispatch to the end (or the deadline, if later)."""
    last = max(end, task.deadline) if task.deadline else end
    return max((last - task.created_at).total_seconds(), 60.0)


def coverage(
    session: Session,
    task: Task,
    unit: Unit,
    children: list[dict],
    paths: list[str] | None,
    end: datetime,
    graph_info: dict,
) -> dict:
    """The unit's coverage and each child's (``children`` as the progress level gives
    them, in tree order), with the span of the charts and where the deadline falls."""
    totals = team_totals(session, task.id, paths)
    reached = reached_times(session, task.id, paths, until=end)
    span = span_of(task, end)
    per_child: dict[int, tuple[int, list[datetime]]] = {c["id"]: (0, []) for c in children}

    def child_of(team_id: int) -> int | None:
        anc = graph_info.get(team_id, {}).get("anc", ())
        if unit.id not in anc:
            return None
        i = anc.index(unit.id)
        return anc[i + 1] if i + 1 < len(anc) else None

    child_total: dict[int, int] = {}
    for team_id, households in totals.items():
        c = child_of(team_id)
        if c is not None:
            child_total[c] = child_total.get(c, 0) + households
    for team_id, at in reached:
        c = child_of(team_id)
        if c in per_child:
            per_child[c][1].append(at)
    rows = []
    for c in children:
        row = summary(per_child[c["id"]][1], child_total.get(c["id"], c["total"]), task, span)
        rows.append({**c, **row})
    deadline_at = (task.deadline - task.created_at).total_seconds() if task.deadline else None
    return {
        "unit": summary([at for _t, at in reached], sum(totals.values()), task, span),
        "children": rows,
        "span": span,
        "deadline_at": deadline_at,
    }


def earlier(
    session: Session, task: Task, unit: Unit, paths: list[str] | None, graph_info: dict
) -> dict:
    """Tasks of the same kind sent earlier to ``unit`` or above it (up to EARLIER_LISTED,
    newest first), each with its minutes to COMPARED_AT % in ``unit``; their median."""
    above = list(graph_info.get(unit.id, {}).get("anc", (unit.id,)))
    found = session.scalars(
        select(Task)
        .where(
            Task.kind == task.kind,
            Task.subkind == task.subkind,
            Task.unit_id.in_(above),
            Task.draft.is_(False),
            Task.created_at < task.created_at,
        )
        .order_by(Task.created_at.desc())
        .limit(EARLIER_LISTED)
    ).all()
    rows = []
    for t in found:
        total = sum(team_totals(session, t.id, paths).values())
        times = [at for _team, at in reached_times(session, t.id, paths)]
        rows.append(
            {
                "id": t.id,
                "title": t.title,
                "created_at": t.created_at,
                "total": total,
                "minutes": minutes_to(times, total, COMPARED_AT, t.created_at),
            }
        )
    known = [r["minutes"] for r in rows if r["minutes"] is not None]
    return {"rows": rows, "median": statistics.median(known) if known else None}
