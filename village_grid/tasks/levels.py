"""Progress one level at a time: a unit's totals and its direct children's.

A cadre reads a sweep from the top and drills down — county, township, village,
grid, team — so an answer never grows with the tree: at any level it holds one
unit, its children (a township's villages, a grid's teams with their lead and
phone), the path back up and the calls for help under it. The full per-unit
table is an export (``tasks/export.py``), not an answer.

Read-only. The counts are :mod:`tasks.progress`'s GROUP BY (team, status),
limited to the teams under the unit and in the viewer's scope, rolled up through
the cached graph.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.errors import NotFound
from village_grid.models import Task, TaskTeam, User
from village_grid.tasks import routing
from village_grid.tasks.graph import get_graph
from village_grid.tasks.labels import CASES_LISTED, COUNT_KEYS
from village_grid.tasks.progress import case_json, household_rows, notice_reads, packed_counts


def level(
    session: Session, task_id: int, *, actor: User | None = None, unit_id: int | None = None
) -> dict:
    """The task's progress at ``unit_id`` (default: the unit it was sent to): that unit's
    counts and each direct child's that the task reached, in tree order, with the person
    told for a team (its lead, or whom routing fell back to) and their phone.

    With ``actor``, only what lies in their scope is counted, and a unit that is neither
    in their scope nor above part of it is not found. So is a unit outside the task.
    """
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(_("No such task."))
    g = get_graph(session)
    flat = routing.flat_tree(g)
    pos, ends, unit_paths, unit_rows = flat["pos"], flat["end"], flat["paths"], flat["rows"]
    top = pos.get(task.unit_id)
    here = pos.get(task.unit_id if unit_id is None else unit_id)
    if top is None or here is None or not top <= here < ends[top]:
        raise NotFound(_("This task did not reach that unit."))
    paths = scope.narrow(
        None if actor is None else scope.scope_paths(actor, "view"), unit_paths[here]
    )
    if not paths:
        raise NotFound(_("This task did not reach that unit."))

    packed = packed_counts(session, task, flat, paths)
    width = len(COUNT_KEYS)
    routing.rollup_flat(flat, here, packed)

    children = []
    child = here + 1
    while child < ends[here]:
        if packed[child]:
            children.append(child)
        child = ends[child]
    told = _told(session, task.id, [unit_rows[c][0] for c in children if unit_rows[c][1] == "team"])

    def counts(i: int) -> dict:
        values = dict(zip(COUNT_KEYS, routing.unpack(packed[i], width), strict=True))
        return {**values, "covered": values["total"] - values["pending"]}

    def unit_json(i: int) -> dict:
        uid, kind, name, parent_id, depth = unit_rows[i]
        return {"id": uid, "kind": kind, "name": name, "parent_id": parent_id, "depth": depth}

    trail = []
    i = here
    while i != top:
        i = flat["parent"][i]
        trail.append({k: v for k, v in unit_json(i).items() if k in ("id", "kind", "name")})
    result = {
        "id": task.id,
        "kind": task.kind,
        "closed": task.closed_at is not None,
        **counts(here),
        "unit": unit_json(here),
        "trail": trail[::-1],
        "children": [
            {
                **unit_json(c),
                **counts(c),
                **({"told": told.get(unit_rows[c][0])} if unit_rows[c][1] == "team" else {}),
            }
            for c in children
        ],
        "needs_help_cases": [
            case_json(r)
            for r in household_rows(
                session,
                task.id,
                paths=paths,
                statuses=("needs_help",),
                latest_first=True,
                limit=CASES_LISTED,
            )
        ],
    }
    if task.kind == "notice":
        result["reads"] = notice_reads(session, task.id, paths=None if here == top else paths)
    return result


def _told(session: Session, task_id: int, team_ids: list[int]) -> dict[int, dict | None]:
    """The person told for each of ``team_ids`` (name, phone, role), None where nobody was."""
    if not team_ids:
        return {}
    found = session.execute(
        select(TaskTeam.team_id, TaskTeam.assignee_role, User)
        .join(User, User.id == TaskTeam.assignee_id)
        .where(TaskTeam.task_id == task_id, TaskTeam.team_id.in_(team_ids))
    ).all()
    told: dict[int, dict | None] = dict.fromkeys(team_ids)
    for team_id, role, user in found:
        told[team_id] = {"name": user.display_name, "phone": user.phone or "", "role": role}
    return told
