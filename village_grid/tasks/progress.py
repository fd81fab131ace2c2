"""How far a task has got: counts rolled up the tree, the households behind
them (who still needs reaching, who asked for help), coverage over time and
who has read a notice.

Read-only. Progress is the counts of the task's teams (``tasks/membership.py``),
rolled up through the cached graph (``tasks/graph.py``); the households behind
them are the task's members.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.errors import NotFound
from village_grid.hierarchy.queries import labels_of
from village_grid.models import (
    Assignment,
    Escalation,
    Household,
    NoticeRead,
    Task,
    TaskTeam,
    Unit,
    User,
)
from village_grid.models.base import iso_z, utcnow
from village_grid.tasks import membership, routing
from village_grid.tasks.graph import get_graph
from village_grid.tasks.labels import CASES_LISTED, COUNT_KEYS, PENDING


def progress(
    session: Session, task_id: int, *, actor: User | None = None, unit: Unit | None = None
) -> dict:
    """Coverage of a task: totals and the same counts for every unit from the
    target (or ``unit``, one under it) down to each team (only units it reached), in
    tree order — the export's per-unit sheet. Pages and the API read one level at a
    time (``tasks/levels.py``).

    With ``actor``, only what lies in their scope is counted.
    """
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(_("No such task."))
    g = get_graph(session)
    flat = routing.flat_tree(g)
    pos = flat["pos"]
    paths = None if actor is None else scope.scope_paths(actor, "view")
    if unit is not None:
        paths = scope.narrow(paths, unit.path)
    packed = packed_counts(session, task, flat, paths)
    width = len(COUNT_KEYS)
    unit_paths = flat["paths"]
    overall = routing.unpack(sum(packed), width)
    units = []
    start = pos.get(task.unit_id if unit is None else unit.id)
    if start is not None and overall[0]:
        routing.rollup_flat(flat, start, packed)
        unit_rows = flat["rows"]
        for i, (total, pending, safe, needs_help, not_home, unreachable) in routing.unpack_reached(
            flat, start, packed, width
        ):
            if paths is not None and not scope.within(unit_paths[i], paths):
                continue
            unit_id, kind, name, parent_id, depth = unit_rows[i]
            units.append(
                {
                    "id": unit_id,
                    "kind": kind,
                    "name": name,
                    "parent_id": parent_id,
                    "depth": depth,
                    "total": total,
                    "pending": pending,
                    "safe": safe,
                    "needs_help": needs_help,
                    "not_home": not_home,
                    "unreachable": unreachable,
                }
            )
    totals = dict(zip(COUNT_KEYS, overall, strict=True))
    return {
        "id": task.id,
        "kind": task.kind,
        "closed": task.closed_at is not None,
        **totals,
        "covered": totals["total"] - totals["pending"],
        "units": units,
    }


def packed_counts(session: Session, task: Task, flat: dict, paths: list[str] | None) -> list[int]:
    """The task's counts per team within ``paths`` (None: everywhere), one packed vector
    per unit position of ``flat`` (fields in COUNT_KEYS order: the total and the status
    at once), so a roll-up (``routing.rollup_flat``) is one integer addition per unit.
    One row per team of the task, read as plain tuples on the session's connection."""
    tt = TaskTeam.__table__
    q = select(tt.c.team_id, *membership.COUNT_COLUMNS).where(tt.c.task_id == task.id)
    target = flat["pos"].get(task.unit_id)
    # Every team of the task lies under its target: when that is within ``paths``, the
    # teams need no path filter (at a district's root it is most of the answer's time).
    if paths is not None and (target is None or not scope.within(flat["paths"][target], paths)):
        q = q.join(Unit, Unit.id == tt.c.team_id).where(scope.paths_clause(paths, Unit.path))
    # One packed step per status (the total and the status at once), spelled out:
    # a district's sweep has a hundred thousand teams, and this loop is most of a
    # level's answer.
    p, s, h, n, u = (routing.pack_unit(0) + routing.pack_unit(i) for i in range(1, len(COUNT_KEYS)))
    pos = flat["pos"]
    packed = [0] * len(flat["rows"])
    for team_id, pending, safe, needs_help, not_home, unreachable in (
        session.connection().execute(q).all()
    ):
        i = pos.get(team_id)
        if i is not None:
            packed[i] += pending * p + safe * s + needs_help * h + not_home * n + unreachable * u
    return packed


def iter_household_rows(
    session: Session,
    task_id: int,
    *,
    paths: list[str] | None = None,
    statuses: tuple[str, ...] | None = None,
    latest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[dict]:
    """The task's households, one at a time as the database sends them, with their
    latest status, their team and grid, and who answers for the team now (its lead, or
    whom routing falls back to) with a phone.

    ``paths`` restricts to subtrees (the viewer's scope: ``scope.scope_paths``);
    ``statuses`` to some statuses. Ordered by team and household, or with
    ``latest_first`` by the latest report first (calls for help). A page in tree
    order (``limit``, ``offset``) reads only the teams that hold it
    (:func:`page_teams`): a district has a million households.
    """
    g = get_graph(session)
    task = session.get(Task, task_id)
    if task is None:
        return
    team_ids = None
    if limit is not None and not latest_first:
        team_ids, before = page_teams(
            session, task.id, paths=paths, statuses=statuses, limit=limit, offset=offset
        )
        offset -= before
    m = membership.members(task, statuses=statuses, team_ids=team_ids)
    q = select(
        Household.id,
        Household.code,
        Household.head_name,
        Household.phone,
        Household.door_no,
        Household.address,
        m.c.team_id,
        m.c.status,
        m.c.help_kind,
        m.c.note,
        m.c.updated_at,
        m.c.updated_via,
    ).join(Household, Household.id == m.c.household_id)
    if paths is not None or not latest_first:  # the team's path: to scope, or to order by
        q = q.join(Unit, Unit.id == m.c.team_id).where(scope.paths_clause(paths, Unit.path))
    if latest_first:
        q = q.order_by(m.c.updated_at.desc(), m.c.team_id, Household.seq)
    else:
        q = q.order_by(Unit.sort_path, Household.seq)
    if limit is not None:
        q = q.limit(limit)
    if offset:
        q = q.offset(offset)
    # Plain columns on the session's connection (flushed first, as session.execute
    # would), and one routing decision per team, remembered with the graph.
    session.flush()
    info = g.graph["info"]
    # Read as they come (a server-side cursor on PostgreSQL), a batch at a time.
    result = session.connection().execute(q.execution_options(yield_per=2000))
    for (
        household_id,
        code,
        head_name,
        phone,
        door_no,
        address,
        team_id,
        status,
        help_kind,
        note,
        updated_at,
        updated_via,
    ) in result:
        team = info.get(team_id)
        grid = info.get(team["parent"]) if team is not None else None
        decision = routing.responsible_cached(g, team_id) if team is not None else None
        person = decision.assignee if decision is not None else None
        yield (
            {
                "household_id": household_id,
                "code": code,
                "head_name": head_name,
                "phone": phone or "",
                "door_no": door_no or "",
                "address": address or "",
                "team_id": team_id,
                "team_name": team["name"] if team is not None else "",
                "grid_name": grid["name"] if grid is not None else "",
                "responsible_name": person.name if person else "",
                "responsible_phone": (person.phone or "") if person else "",
                "responsible_role": decision.role if decision else "",
                "status": status,
                "help_kind": help_kind or "",
                "note": note or "",
                "updated_at": updated_at,
                "updated_via": updated_via or "",
            }
        )


def household_rows(session: Session, task_id: int, **options) -> list[dict]:
    """:func:`iter_household_rows` as a list (a page of them, or a small task); the same
    options."""
    return list(iter_household_rows(session, task_id, **options))


def page_teams(
    session: Session,
    task_id: int,
    *,
    paths: list[str] | None,
    statuses: tuple[str, ...] | None,
    limit: int,
    offset: int,
) -> tuple[list[int], int]:
    """The teams, in tree order, holding the households ``offset`` to ``offset + limit``
    of the task's list within ``paths`` and ``statuses`` (by the teams' counts), and
    how many of the list's households come before the first of them."""
    tt = TaskTeam.__table__
    counted = membership.counted(statuses)
    q = (
        select(tt.c.team_id, counted)
        .join(Unit, Unit.id == tt.c.team_id)
        .where(tt.c.task_id == task_id, counted > 0, scope.paths_clause(paths, Unit.path))
        .order_by(Unit.sort_path)
    )
    if not offset:  # every team counted holds at least one: ``limit`` teams are enough
        return list(session.connection().scalars(q.limit(limit))), 0
    before, reached, teams = 0, 0, []
    for team_id, n in session.connection().execute(q):
        if not teams and before + n <= offset:
            before += n
            continue
        teams.append(team_id)
        reached = (reached or before) + n
        if reached >= offset + limit:
            break
    return teams, before


def count_rows(
    session: Session,
    task_id: int,
    *,
    paths: list[str] | None = None,
    statuses: tuple[str, ...] | None = None,
) -> int:
    """How many rows :func:`household_rows` would give without a limit: the counts
    of the task's teams within ``paths``."""
    tt = TaskTeam.__table__
    counted = membership.counted(statuses)
    q = (
        select(func.sum(counted))
        .select_from(tt)
        .join(Unit, Unit.id == tt.c.team_id)
        .where(tt.c.task_id == task_id, scope.paths_clause(paths, Unit.path))
    )
    return int(session.scalar(q) or 0)


def case_json(row: dict) -> dict:
    """A household row as the API and the live page give it (times in ISO 8601)."""
    return {**row, "updated_at": iso_z(row["updated_at"])}


def needs_help_cases(
    session: Session, task_id: int, *, actor: User | None = None, limit: int = CASES_LISTED
) -> list[dict]:
    """Every household of the task whose latest status is "needs help", newest first."""
    paths = None if actor is None else scope.scope_paths(actor, "view")
    rows = household_rows(
        session, task_id, paths=paths, statuses=("needs_help",), latest_first=True, limit=limit
    )
    return [case_json(r) for r in rows]


def pending_households(
    session: Session,
    task_id: int,
    *,
    actor: User | None = None,
    limit: int = CASES_LISTED,
    under: str | None = None,
) -> list[dict]:
    """Households not reached yet, with who answers for their team and a phone to call
    (``under``: only below the unit at that path)."""
    paths = None if actor is None else scope.scope_paths(actor, "view")
    if under is not None:
        paths = scope.narrow(paths, under)
    rows = household_rows(session, task_id, paths=paths, statuses=(PENDING,), limit=limit)
    return [case_json(r) for r in rows]


def coverage_timeline(
    session: Session,
    task_id: int,
    *,
    points: int = 24,
    now: datetime | None = None,
    paths: list[str] | None = None,
) -> dict:
    """Coverage over time since dispatch, and an estimate of when every
    household will be reached at the pace of the last quarter hour (or since dispatch);
    within ``paths`` (a unit's subtree in the viewer's scope) when given."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(_("No such task."))
    now = now or utcnow()
    end = min(now, task.closed_at) if task.closed_at else now
    total = count_rows(session, task.id, paths=paths)
    q = select(Assignment.updated_at).where(
        Assignment.task_id == task.id,
        Assignment.status != PENDING,
        Assignment.updated_at.is_not(None),
    )
    if paths is not None:
        q = q.join(Unit, Unit.id == Assignment.team_id).where(scope.paths_clause(paths, Unit.path))
    times = sorted(t for (t,) in session.execute(q).all())
    start = task.created_at
    span = max((end - start).total_seconds(), 1.0)
    series = []
    i = 0
    for k in range(points + 1):
        at = start + timedelta(seconds=span * k / points)
        while i < len(times) and times[i] <= at:
            i += 1
        series.append(
            {
                "at": iso_z(at),
                "covered": i,
                "percent": round(100 * i / total, 1) if total else 0,
            }
        )
    covered = len(times)
    eta = None
    rate = 0.0
    if covered and covered < total and not task.closed_at:
        window_start = max(start, end - timedelta(minutes=15))
        recent = sum(1 for t in times if t >= window_start)
        minutes = max((end - window_start).total_seconds() / 60, 0.5)
        if recent == 0:
            recent, minutes = covered, max(span / 60, 0.5)
        rate = recent / minutes
        eta = iso_z(end + timedelta(minutes=(total - covered) / rate))
    return {
        "total": total,
        "covered": covered,
        "points": series,
        "rate_per_minute": round(rate, 2),
        "eta": eta,
    }


def notice_reads(session: Session, task_id: int, *, paths: list[str] | None = None) -> dict:
    """Who was told about a notice (one person per team: its lead, or whom routing
    fell back to), who has read it and when, who has not — with their teams and
    phone, and whom a case about their not reading it has reached — and, once
    everyone told has read it, when that was and how many minutes after sending
    (rounded up, at least 1). With ``paths`` (a unit looked at), only the people
    told for teams within them."""
    task = session.get(Task, task_id)
    # The teams within ``paths`` told about it, read with their names from the tables
    # (not the cached graph: a report is made in a process that does not hold it).
    told_rows = session.execute(
        select(TaskTeam.team_id, TaskTeam.assignee_id, TaskTeam.assignee_role)
        .join(Unit, Unit.id == TaskTeam.team_id)
        .where(
            TaskTeam.task_id == task_id,
            TaskTeam.assignee_id.is_not(None),
            scope.paths_clause(paths, Unit.path),
        )
        .order_by(TaskTeam.id)
    ).all()
    names = labels_of(session, [team_id for team_id, _a, _r in told_rows])
    teams: dict[int, list[str]] = {}
    roles: dict[int, str] = {}
    for team_id, assignee_id, role in told_rows:
        teams.setdefault(assignee_id, []).append(names.get(team_id, ""))
        roles.setdefault(assignee_id, role)
    told = set(teams)
    reads = {
        r.user_id: r.read_at
        for r in session.scalars(select(NoticeRead).where(NoticeRead.task_id == task_id))
        if paths is None or r.user_id in told
    }
    held = _unread_cases(session, task_id)
    ids = told | set(reads) | {holder for _level, holder in held.values() if holder}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    people = []
    for uid in sorted(told | set(reads)):
        if uid not in users:
            continue
        level, holder = held.get(uid, (0, None))
        people.append(
            {
                "id": uid,
                "name": users[uid].display_name,
                "phone": users[uid].phone or "",
                "role": roles.get(uid, ""),
                "teams": teams.get(uid, []),
                "told": uid in told,
                "read_at": iso_z(reads.get(uid)),
                "read_after_minutes": _minutes_after(task, reads.get(uid)),
                "escalation_level": level,
                "escalated_to": users[holder].display_name if holder in users else "",
            }
        )
    all_read_at = max(reads[u] for u in told) if told and told <= set(reads) else None
    return {
        "told": len(told),
        "read": len(told & set(reads)),
        "people": people,
        "sent_at": iso_z(task.created_at) if task is not None else None,
        "all_read_at": iso_z(all_read_at),
        "all_read_after_minutes": _minutes_after(task, all_read_at),
    }


def _minutes_after(task: Task | None, at: datetime | None) -> int | None:
    """Whole minutes from sending ``task`` to ``at``, rounded up (at least 1)."""
    if task is None or at is None:
        return None
    return max(1, math.ceil((at - task.created_at).total_seconds() / 60))


def _unread_cases(session: Session, task_id: int) -> dict[int, tuple[int, int | None]]:
    """Per person told who has not read the notice: the highest level a case about it
    has reached (not resolved yet) and who holds it there."""
    rows = session.execute(
        select(TaskTeam.assignee_id, Escalation.level, Escalation.assignee_id)
        .join(TaskTeam, TaskTeam.id == Escalation.task_team_id)
        .where(
            Escalation.task_id == task_id,
            Escalation.reason == "unread",
            Escalation.status != "resolved",
        )
        .order_by(Escalation.level)
    ).all()
    return {told: (level, holder) for told, level, holder in rows if told}
