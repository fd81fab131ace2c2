"""Teams in a report: who answered for each, how long to its first and last confirmation,
how the confirmations came (lead, door plate, offline sync, cadre — the status events'
``via``), and the households never reached with their door numbers."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.hierarchy.queries import labels_of
from village_grid.models import Assignment, Household, StatusEvent, Task, TaskTeam, Unit, User
from village_grid.reports.labels import TEAMS_LISTED, UNREACHED_LISTED, UNREACHED_TEAMS_LISTED
from village_grid.tasks import membership
from village_grid.tasks.labels import PENDING, VIA


def _minutes(task: Task, at: datetime | None) -> int | None:
    if at is None:
        return None
    return max(0, math.ceil((at - task.created_at).total_seconds() / 60))


def teams(session: Session, task: Task, paths: list[str] | None, end: datetime) -> list[dict]:
    """Every team of the task within ``paths`` (tree order, up to TEAMS_LISTED): its lead
    (whom the task told), households, reached, minutes to the first and the last
    confirmation and how many came each way."""
    rows = session.execute(
        select(TaskTeam, User)
        .join(Unit, Unit.id == TaskTeam.team_id)
        .outerjoin(User, User.id == TaskTeam.assignee_id)
        .where(TaskTeam.task_id == task.id, scope.paths_clause(paths, Unit.path))
        .order_by(Unit.sort_path)  # tree order, as the progress page lists them
        .limit(TEAMS_LISTED)
    ).all()
    ids = [tt.team_id for tt, _u in rows]
    names = labels_of(session, ids)
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
                "name": names.get(tt.team_id, ""),
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
    """The households still pending (never reached) within ``paths``, grouped by team in
    tree order, with their door numbers and whom the task told for the team: the first
    UNREACHED_TEAMS_LISTED teams, at most UNREACHED_LISTED households in all (a million
    households' report stays a document; the export has every one). How many households
    and teams in all, and how many are listed."""
    pending_teams = (
        TaskTeam.task_id == task.id,
        TaskTeam.pending > 0,
        scope.paths_clause(paths, Unit.path),
    )
    total, team_total = session.execute(
        select(func.coalesce(func.sum(TaskTeam.pending), 0), func.count())
        .join(Unit, Unit.id == TaskTeam.team_id)
        .where(*pending_teams)
    ).one()
    rows = session.execute(
        select(TaskTeam.team_id, TaskTeam.pending, User)
        .join(Unit, Unit.id == TaskTeam.team_id)
        .outerjoin(User, User.id == TaskTeam.assignee_id)
        .where(*pending_teams)
        .order_by(Unit.sort_path)
        .limit(UNREACHED_TEAMS_LISTED)
    ).all()
    chosen, room = [], UNREACHED_LISTED
    for team_id, pending, person in rows:
        if room <= 0:
            break
        chosen.append((team_id, person))
        room -= pending
    ids = [team_id for team_id, _p in chosen]
    names = labels_of(session, ids)
    doors: dict[int, list[dict]] = {i: [] for i in ids}
    listed = 0
    if ids:
        m = membership.members(task, statuses=(PENDING,), team_ids=ids)
        for team_id, code, door_no, address in session.execute(
            select(m.c.team_id, Household.code, Household.door_no, Household.address)
            .join(Household, Household.id == m.c.household_id)
            .order_by(m.c.team_id, Household.seq)
        ):
            if listed < UNREACHED_LISTED:
                doors[team_id].append(
                    {"code": code, "door_no": door_no or "", "address": address or ""}
                )
                listed += 1
    teams_out = [
        {
            "name": names.get(team_id, ""),
            "lead": person.display_name if person else "",
            "lead_phone": (person.phone or "") if person else "",
            "households": doors[team_id],
        }
        for team_id, person in chosen
        if doors[team_id]
    ]
    return {
        "total": int(total),
        "teams_total": int(team_total),
        "teams": teams_out,
        "listed": listed,
    }
