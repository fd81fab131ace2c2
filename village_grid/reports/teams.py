"""Teams in a report: who answered for each, how long to its first and last confirmation,
how the confirmations came (lead, door plate, offline sync, cadre — the status events'
``via``), and the households never reached with their door numbers."""

from __future__ import annotations

import math
from datetime import datetime

import networkx as nx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.models import Assignment, StatusEvent, Task, TaskTeam, Unit, User
from village_grid.reports.labels import TEAMS_LISTED, UNREACHED_LISTED
from village_grid.tasks import progress
from village_grid.tasks.graph import team_label
from village_grid.tasks.labels import PENDING, VIA


def _minutes(task: Task, at: datetime | None) -> int | None:
    if at is None:
        return None
    return max(0, math.ceil((at - task.created_at).total_seconds() / 60))


def teams(
    session: Session, g: nx.DiGraph, task: Task, paths: list[str] | None, end: datetime
) -> list[dict]:
    """Every team of the task within ``paths`` (tree order, up to TEAMS_LISTED): its lead
    (whom the task told), households, reached, minutes to the first and the last
    confirmation and how many came each way."""
    rows = session.execute(
        select(TaskTeam, User)
        .join(Unit, Unit.id == TaskTeam.team_id)
        .outerjoin(User, User.id == TaskTeam.assignee_id)
        .where(TaskTeam.task_id == task.id, scope.paths_clause(paths, Unit.path))
        .order_by(Unit.sort_path)
        .limit(TEAMS_LISTED)
    ).all()
    # In tree order (teams by code under their grid), as the progress page lists them.
    index = g.graph["index"]
    rows = sorted(rows, key=lambda r: index.get(r[0].team_id, len(index)))
    ids = [tt.team_id for tt, _u in rows]
    times: dict[int, tuple] = {}
    ways: dict[int, dict[str, int]] = {}
    if ids:
        reported = (
            Assignment.task_id == task.id,
            Assignment.team_id.in_(ids),
            StatusEvent.status != PENDING,
            StatusEvent.created_at <= end,
        )
        for team_id, first, last in session.execute(
            select(
                Assignment.team_id,
                func.min(StatusEvent.created_at),
                func.max(StatusEvent.created_at),
            )
            .join(Assignment, Assignment.id == StatusEvent.assignment_id)
            .where(*reported)
            .group_by(Assignment.team_id)
        ):
            times[team_id] = (first, last)
        for team_id, via, n in session.execute(
            select(Assignment.team_id, StatusEvent.via, func.count())
            .join(Assignment, Assignment.id == StatusEvent.assignment_id)
            .where(*reported)
            .group_by(Assignment.team_id, StatusEvent.via)
        ):
            ways.setdefault(team_id, {})[via] = n
    out = []
    for tt, person in rows:
        first, last = times.get(tt.team_id, (None, None))
        reached = tt.households - tt.pending
        out.append(
            {
                "team_id": tt.team_id,
                "name": team_label(g, tt.team_id),
                "lead": person.display_name if person else "",
                "lead_phone": (person.phone or "") if person else "",
                "role": tt.assignee_role,
                "households": tt.households,
                "reached": reached,
                "needs_help": tt.needs_help,
                "first_minutes": _minutes(task, first),
                # The last confirmation is the team's finish only once all are reached.
                "last_minutes": _minutes(task, last),
                "done": tt.households > 0 and tt.pending == 0,
                # How the confirmations came, in VIA's order, only the ways that were used.
                "via": [(v, ways[tt.team_id][v]) for v in VIA if ways.get(tt.team_id, {}).get(v)],
            }
        )
    return out


def unreached(session: Session, task: Task, paths: list[str] | None) -> dict:
    """The households still pending (never reached) within ``paths``, grouped by team,
    with their door numbers and who answers for the team; how many in all."""
    total = progress.count_rows(session, task.id, paths=paths, statuses=(PENDING,))
    rows = progress.household_rows(
        session, task.id, paths=paths, statuses=(PENDING,), limit=UNREACHED_LISTED
    )
    by_team: dict[int, dict] = {}
    for r in rows:
        team = by_team.setdefault(
            r["team_id"],
            {
                "team_name": r["team_name"],
                "grid_name": r["grid_name"],
                "lead": r["responsible_name"],
                "lead_phone": r["responsible_phone"],
                "households": [],
            },
        )
        team["households"].append(
            {"code": r["code"], "door_no": r["door_no"], "address": r["address"]}
        )
    return {"total": total, "teams": list(by_team.values()), "listed": len(rows)}
