"""Cases about a team rather than a household: a notice its person told has not read
(``tasks/unread.py``, reason ``unread``) and a team lead gone silent on a sweep
(``field/silent.py``, reason ``silent``).

Both open at the first person on duty above the team other than the person the case
is about, and climb one level per ``ESCALATION_INTERVAL_MINUTES`` while nobody
acknowledges them: this module holds what the two share — who holds a case at a
level, the row of a case, and the climb. Household cases (``tasks/escalation.py``)
climb the same way and share :func:`stop_climbing`. Functions flush and never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from village_grid.database import insert_ignore
from village_grid.models import Escalation, Task, TaskTeam, User
from village_grid.tasks import routing

# Ids per IN (...) list: well under every engine's limit on bound parameters.
CHUNK = 5000


def chunks(ids: list[int]) -> list[list[int]]:
    """``ids`` in lists of at most :data:`CHUNK`."""
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def stop(g: nx.DiGraph, team_id: int, level: int, about_id: int | None) -> routing.Stop | None:
    """Who holds a case about ``team_id`` at ``level``: routing's stop above the team,
    passing over the person the case is about (who has not read, who went silent)."""
    return routing.escalation_stop(g, team_id, level, besides=about_id) if team_id in g else None


def case_row(
    reason: str,
    task_id: int,
    task_team_id: int,
    team_id: int,
    level: int,
    holder: routing.Stop | None,
    fallback_unit: int | None,
    now: datetime,
    nxt: datetime | None,
) -> dict:
    """The escalations row of a team case at ``level``, held by ``holder`` (or, with
    nobody on duty, left at ``fallback_unit``)."""
    return {
        "task_id": task_id,
        "assignment_id": None,
        "household_id": None,
        "task_team_id": task_team_id,
        "team_id": team_id,
        "reason": reason,
        "level": level,
        "unit_id": holder.unit_id if holder else fallback_unit,
        "assignee_id": holder.person.id if holder else None,
        "status": "open",
        "opened_at": now,
        "next_escalation_at": nxt,
        "resolution_note": "",
    }


def stop_climbing(session: Session, ids: list[int]) -> None:
    """The cases ``ids`` have climbed (or cannot): no next escalation."""
    for chunk in chunks(ids):
        session.execute(
            update(Escalation)
            .where(Escalation.id.in_(chunk))
            .values(next_escalation_at=None)
            .execution_options(synchronize_session=False)
        )


def climb(
    session: Session, g: nx.DiGraph, reason: str, now: datetime, wait: timedelta, rounds: int
) -> list[int]:
    """Open ``reason`` cases nobody acknowledged climb one level per interval while their
    task is open (what ends a case — a read, a sign of life — has already resolved it).
    Up to ``rounds`` levels in one run; returns the ids of the cases opened."""
    created: list[int] = []
    for _round in range(rounds):
        due = session.execute(
            select(
                Escalation.id,
                Escalation.task_id,
                Escalation.task_team_id,
                Escalation.team_id,
                Escalation.level,
                Escalation.next_escalation_at,
                TaskTeam.assignee_id,
                Task.closed_at,
            )
            .join(TaskTeam, TaskTeam.id == Escalation.task_team_id)
            .join(Task, Task.id == Escalation.task_id)
            .where(
                Escalation.reason == reason,
                Escalation.status == "open",
                Escalation.next_escalation_at <= now,
            )
        ).all()
        if not due:
            break
        rows = []
        for _id, task_id, task_team_id, team_id, level, next_at, about_id, closed_at in due:
            holder = stop(g, team_id, level + 1, about_id)
            if holder is None or closed_at is not None:
                continue
            nxt = next_at + wait if stop(g, team_id, level + 2, about_id) else None
            rows.append(
                case_row(reason, task_id, task_team_id, team_id, level + 1, holder, None, now, nxt)
            )
        stop_climbing(session, [row[0] for row in due])
        created += [r[0] for r in insert_ignore(session, Escalation, rows, Escalation.id)]
    return created


def new_cases(session: Session, ids: list[int]) -> tuple[list, dict[int, User], dict[int, Task]]:
    """What the messages of the new case levels ``ids`` need: their rows (task, task team,
    team, level, holder, the person the case is about, that person's role), in id order,
    and the people and tasks they name, by id."""
    rows: list = []
    for chunk in chunks(ids):
        rows += session.execute(
            select(
                Escalation.task_id,
                Escalation.task_team_id,
                Escalation.team_id,
                Escalation.level,
                Escalation.assignee_id,
                TaskTeam.assignee_id,
                TaskTeam.assignee_role,
            )
            .join(TaskTeam, TaskTeam.id == Escalation.task_team_id)
            .where(Escalation.id.in_(chunk))
            .order_by(Escalation.id)
        ).all()
    user_ids = sorted({r[4] for r in rows if r[4]} | {r[5] for r in rows if r[5]})
    users = {
        u.id: u
        for chunk in chunks(user_ids)
        for u in session.scalars(select(User).where(User.id.in_(chunk)))
    }
    tasks = {
        t.id: t for t in session.scalars(select(Task).where(Task.id.in_({r[0] for r in rows})))
    }
    return rows, users, tasks
