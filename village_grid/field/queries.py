"""Reads of the "my team" pages: which teams a person answers for, and one team's
page — its households, every open task reaching it with each household's status,
the notices its person has not read, its red-mailbox letters.

Read-only. The scope of every read is the caller's (``auth/scope.py``); the routes
load the team through ``scope.require_unit`` first.
"""

from __future__ import annotations

from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.field.labels import LETTERS_SHOWN, TASKS_SHOWN, TEAMS_LISTED
from village_grid.hierarchy import queries as hierarchy_queries
from village_grid.models import (
    Household,
    MailboxMessage,
    Task,
    TaskTeam,
    Unit,
    User,
)
from village_grid.tasks import membership
from village_grid.tasks.graph import get_graph, team_label


def team_name(session: Session, team_id: int) -> str:
    """A team as people say it: with its grid ("第3网格 4小队")."""
    return team_label(get_graph(session), team_id)


def own_team(session: Session, user: User) -> Unit | None:
    """The one team ``user`` answers for, when their whole scope is one team (a lead)."""
    roots = scope.scope_roots(session, user, "report_status")
    return roots[0] if len(roots) == 1 and roots[0].kind == "team" else None


def teams_in_scope(session: Session, user: User) -> tuple[list[dict], bool]:
    """The teams where ``user`` may report (a grid member's grid, a cadre's village),
    in tree order, each named with its grid and with the households still to confirm
    on open tasks; and whether there were more than :data:`TEAMS_LISTED`."""
    rows = session.execute(
        select(Unit.id, Unit.name)
        .where(Unit.kind == "team", scope.scope_clause(user, "report_status"))
        .order_by(Unit.sort_path)
        .limit(TEAMS_LISTED + 1)
    ).all()
    more = len(rows) > TEAMS_LISTED
    rows = rows[:TEAMS_LISTED]
    ids = [r[0] for r in rows]
    pending = (
        dict(
            session.execute(
                select(TaskTeam.team_id, func.sum(TaskTeam.pending))
                .join(Task, Task.id == TaskTeam.task_id)
                .where(TaskTeam.team_id.in_(ids), TaskTeam.pending > 0, Task.closed_at.is_(None))
                .group_by(TaskTeam.team_id)
            ).all()
        )
        if ids
        else {}
    )
    households = hierarchy_queries.team_household_counts(session, ids)
    out = [
        {
            "id": team_id,
            "name": team_name(session, team_id) or name,
            "households": households.get(team_id, 0),
            "pending": pending.get(team_id, 0),
        }
        for team_id, name in rows
    ]
    return out, more


def open_tasks(session: Session, team_id: int) -> list[Task]:
    """Tasks not closed that reached the team, the nearest deadline first."""
    return list(
        session.scalars(
            select(Task)
            .join(TaskTeam, TaskTeam.task_id == Task.id)
            .where(TaskTeam.team_id == team_id, Task.closed_at.is_(None))
            .order_by(
                case((Task.deadline.is_(None), 1), else_=0),
                Task.deadline,
                Task.created_at.desc(),
                Task.id.desc(),
            )
            .limit(TASKS_SHOWN)
        )
    )


def statuses(session: Session, team_id: int, task_ids: list[int]) -> dict[tuple[int, int], dict]:
    """Each household's latest status on each of these tasks: (task, household) → row."""
    if not task_ids:
        return {}
    per_task = []  # the team's members on each task, read in one statement
    for task in session.scalars(select(Task).where(Task.id.in_(task_ids))):
        m = membership.members(task, team_ids=[team_id])
        per_task.append(
            select(
                literal(task.id),
                m.c.household_id,
                m.c.status,
                m.c.help_kind,
                m.c.note,
                m.c.updated_at,
                m.c.updated_via,
            )
        )
    rows = session.execute(union_all(*per_task)).all() if per_task else []
    return {
        (task_id, household_id): {
            "status": status,
            "help_kind": help_kind or "",
            "note": note or "",
            "updated_at": updated_at,
            "updated_via": updated_via or "",
        }
        for task_id, household_id, status, help_kind, note, updated_at, updated_via in rows
    }


def households(session: Session, team_id: int) -> list[Household]:
    """The team's households in their order (``hierarchy.queries.team_households``)."""
    return hierarchy_queries.team_households(session, team_id)


def letters(session: Session, team_id: int, limit: int = LETTERS_SHOWN) -> list[MailboxMessage]:
    """The team's red-mailbox letters: waiting first, newest first."""
    order = case((MailboxMessage.status == "open", 0), else_=1)
    return list(
        session.scalars(
            select(MailboxMessage)
            .where(MailboxMessage.team_id == team_id)
            .order_by(order, MailboxMessage.created_at.desc(), MailboxMessage.id.desc())
            .limit(limit)
        )
    )
